"""Loading real-world checkpoint files: foreign pickled objects as inert stand-ins, files
that would run code refused, memory-mapped partial loading, errors that say what is wrong."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import torch
from release_files import (
    DICT_CONFIG,
    MODEL_CHECKPOINT,
    registered,
    save_like_lightning,
    save_with_code,
    save_with_extras,
)
from safetensors.torch import save_file

from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.safe_unpickle import UnsafeCheckpointError, refusal
from semfid_bench.plugin_api.weights import (
    WeightFile,
    WrongFileError,
    audit,
    fetch_weights,
    key_mismatch,
    load_state_dict,
    sha256_of,
    telling_keys,
)

STATE = {"model.diffusion_model.w": torch.arange(6.0), "first_stage_model.b": torch.ones(2)}


def test_lightning_checkpoint_loads_without_importing_its_modules(tmp_path, caplog):
    path = save_like_lightning(STATE, tmp_path / "stablesr_000117.ckpt")
    with pytest.raises(Exception, match="Unsupported global"):  # what users meet today
        torch.load(path, weights_only=True)
    with caplog.at_level(logging.WARNING, logger="semfid_bench.plugin_api.weights"):
        state = load_state_dict(path)
    assert state.keys() == STATE.keys()
    assert all(torch.equal(state[k], STATE[k]) for k in STATE)
    assert "pytorch_lightning" not in sys.modules and "omegaconf" not in sys.modules
    [line] = [r.getMessage() for r in caplog.records]
    assert MODEL_CHECKPOINT in line and DICT_CONFIG in line and "argparse.Namespace" in line


def test_extras_beside_wrapped_state_dicts_load(tmp_path):
    path = save_with_extras(STATE, tmp_path / "ram.pth", "model")
    assert load_state_dict(path).keys() == STATE.keys()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_file_that_would_run_code_is_refused_and_nothing_runs(tmp_path, legacy):
    sentinel = tmp_path / "sentinel"
    path = save_with_code(tmp_path / "evil.ckpt", sentinel, legacy=legacy)
    with pytest.raises(UnsafeCheckpointError, match=r"system .*nothing from it ran"):
        load_state_dict(path)
    assert not sentinel.exists()


def test_functions_and_code_modules_are_refused_data_classes_are_not():
    assert refusal("posix.system") and refusal("builtins.eval") and refusal("subprocess.Popen")
    assert refusal("mypkg.hooks.run_on_load")  # a function: unpickling would call it
    assert refusal(MODEL_CHECKPOINT) is None and refusal("argparse.Namespace") is None
    assert refusal("numpy._core.multiarray.scalar") is None and refusal("builtins.dict") is None


def test_weights_stored_as_foreign_objects_are_refused(tmp_path):
    with registered("bitsandbytes.nn.modules.Params4bit") as params:
        weight = params()
        weight.__dict__["data"] = torch.ones(2)
        torch.save({"state_dict": {"w": weight}}, tmp_path / "quantised.pth")
    with pytest.raises(WeightsUnavailableError, match=r"pickled as objects of bitsandbytes"):
        load_state_dict(tmp_path / "quantised.pth")


def test_only_the_wanted_parts_are_read(tmp_path):
    torch.save({"state_dict": {**STATE, "loss.disc": torch.zeros(3)}}, tmp_path / "a.ckpt")
    assert list(load_state_dict(tmp_path / "a.ckpt", prefixes=("first_stage_model.",))) == [
        "first_stage_model.b"
    ]
    assert "loss.disc" not in load_state_dict(tmp_path / "a.ckpt", exclude=("loss.",))
    save_file(STATE, tmp_path / "a.safetensors")
    part = load_state_dict(tmp_path / "a.safetensors", prefixes=("model.",))
    assert list(part) == ["model.diffusion_model.w"]


def test_mmap_tensors_are_backed_by_the_file(tmp_path):
    torch.save({"w": torch.arange(1000.0)}, tmp_path / "w.pth")
    w = load_state_dict(tmp_path / "w.pth")["w"]
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs Linux's /proc/self/maps")
    assert str(tmp_path / "w.pth") in maps.read_text()  # mapped, not read into memory
    assert torch.equal(w, torch.arange(1000.0))


def _truncated(tmp_path):
    torch.save({"w": torch.arange(1000.0)}, tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.pth", len(data)


def test_truncated_file_is_compared_with_the_published_size(tmp_path):
    cut, size = _truncated(tmp_path)
    release = WeightFile("full.pth", "https://example.org/full.pth", size=size)
    with pytest.raises(WeightsUnavailableError) as caught:
        load_state_dict(cut, release=release)
    text = str(caught.value)
    assert f"{size // 2:,} bytes" in text and f"is {size:,} bytes" in text
    assert "the file is truncated" in text
    assert "download it again from https://example.org/full.pth" in text
    unknown = WeightFile("full.pth", "https://example.org/full.pth")
    with pytest.raises(WeightsUnavailableError, match="published size is unknown"):
        load_state_dict(cut, release=unknown)


def test_a_pinned_hash_is_compared_on_a_read_error(tmp_path):
    cut, _ = _truncated(tmp_path)
    release = WeightFile("full.pth", "u", sha256="0" * 64)
    with pytest.raises(WeightsUnavailableError) as caught:
        load_state_dict(cut, release=release)
    assert f"SHA-256 is {sha256_of(cut)}, not the release's {'0' * 64}" in str(caught.value)


def test_mismatch_names_the_most_telling_keys():
    missing = [f"unet.down.{i}.w" for i in range(10)] + ["vae.enc.w", "vae.enc.b", "text.w"]
    assert telling_keys(missing) == ["unet.down.0.w", "vae.enc.b", "text.w"]
    error = key_mismatch("f.ckpt", "UNet", missing, ["other.x"], "the release X")
    assert "13 missing keys (e.g. unet.down.0.w, vae.enc.b, text.w)" in error.message
    assert "1 unexpected keys (e.g. other.x)" in error.message and "the release X" in error.hint


def test_an_html_page_saved_as_a_checkpoint_is_recognised(tmp_path):
    page = tmp_path / "DAPE.pth"
    page.write_text("<!DOCTYPE html><html><title>Google Drive - Virus scan warning</title>")
    with pytest.raises(WeightsUnavailableError, match="It is an HTML page"):
        load_state_dict(page)


def test_audit_checks_found_files_against_the_release_and_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEMFID_BENCH_OFFLINE", raising=False)
    local = tmp_path / "model.pth"
    local.write_bytes(b"0123456789")
    digest = sha256_of(local)
    good = WeightFile("model.pth", "https://example.org/model.pth", sha256=digest, size=10)
    with audit():
        assert fetch_weights(good, local, option="o") == local
        with pytest.raises(WrongFileError, match=f"has SHA-256 {digest}, but the release"):
            fetch_weights(WeightFile("model.pth", "u", sha256="0" * 64), local, option="o")
        with pytest.raises(WrongFileError, match=r"is 10 bytes, but .* 20 bytes: it is truncated"):
            fetch_weights(WeightFile("model.pth", "u", size=20), local, option="o")
        with pytest.raises(WeightsUnavailableError, match="not in the cache"):
            fetch_weights(WeightFile("other.pth", "https://example.org/other.pth"), option="o")
    # outside an audit, a local file is taken as given
    assert fetch_weights(WeightFile("model.pth", "u", sha256="0" * 64), local, option="o") == local
