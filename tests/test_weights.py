"""The weights helper: local override, cache, download with hash check, offline errors."""

import pytest
import torch
from safetensors.torch import save_file

from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.weights import WeightFile, fetch_weights, load_state_dict, sha256_of


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEMFID_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def published(tmp_path):
    """A 'published' checkpoint reachable by a file:// URL."""
    source = tmp_path / "published" / "model.pth"
    source.parent.mkdir()
    torch.save({"params_ema": {"w": torch.arange(4.0)}}, source)
    return source


def test_download_verifies_hash_and_caches(cache, published):
    file = WeightFile("model.pth", published.as_uri(), sha256_of(published))
    path = fetch_weights(file, option="--set m.weights=PATH")
    assert path == cache / "weights" / "model.pth" and path.is_file()
    published.unlink()  # a second call uses the cache, no network
    assert fetch_weights(file, option="--set m.weights=PATH") == path
    assert torch.equal(load_state_dict(path)["w"], torch.arange(4.0))


def test_wrong_hash_is_refused_and_not_cached(cache, published):
    file = WeightFile("model.pth", published.as_uri(), "0" * 64)
    with pytest.raises(WeightsUnavailableError, match="SHA-256 is not 0000"):
        fetch_weights(file, option="--set m.weights=PATH")
    assert not (cache / "weights" / "model.pth").exists()


def test_offline_error_names_file_url_cache_and_option(cache, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    file = WeightFile("BSRGAN.pth", "https://example.org/BSRGAN.pth")
    with pytest.raises(WeightsUnavailableError) as caught:
        fetch_weights(file, option="--set bsrgan.weights=PATH")
    text = str(caught.value)
    assert "BSRGAN.pth" in text and "https://example.org/BSRGAN.pth" in text
    assert str(cache / "weights" / "BSRGAN.pth") in text and "--set bsrgan.weights=PATH" in text


def test_local_path_overrides_and_missing_local_path_is_named(cache, published, tmp_path):
    file = WeightFile("model.pth", "https://example.org/model.pth")
    assert fetch_weights(file, published, option="o") == published
    with pytest.raises(WeightsUnavailableError, match=r"nope\.pth does not exist"):
        fetch_weights(file, tmp_path / "nope.pth", option="o")


def test_load_state_dict_formats_and_corruption(tmp_path):
    tensors = {"a": torch.ones(2)}
    save_file(tensors, tmp_path / "w.safetensors")
    assert torch.equal(load_state_dict(tmp_path / "w.safetensors")["a"], torch.ones(2))
    torch.save({"state_dict": tensors}, tmp_path / "w.pth")
    assert set(load_state_dict(tmp_path / "w.pth")) == {"a"}
    data = (tmp_path / "w.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsUnavailableError, match=r"Cannot read weights file .*cut\.pth"):
        load_state_dict(tmp_path / "cut.pth")
    torch.save({"a": 1}, tmp_path / "odd.pth")
    with pytest.raises(WeightsUnavailableError, match="does not hold a state dict"):
        load_state_dict(tmp_path / "odd.pth")
