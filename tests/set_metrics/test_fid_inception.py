"""The FID Inception network, the resize conventions and the weights lookup, against
pytorch-fid and clean-fid on random weights and real images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from semfid_bench.execution.prefetch import prefetch_plugin
from semfid_bench.metrics.fid import (
    INCEPTION,
    FIDInception3,
    FIDMetric,
    KIDMetric,
    clean_resize,
    legacy_resize,
)
from semfid_bench.plugin_api.errors import PluginError, WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import DeclaresWeights
from semfid_bench.plugin_api.plugin_manager import build_registry

inception = pytest.importorskip("pytorch_fid.inception")
resize = pytest.importorskip("cleanfid.resize")


@pytest.fixture
def pytorch_fid_loads(monkeypatch, inception_weights):
    """pytorch-fid's ``fid_inception_v3`` loading the random checkpoint, not downloading."""
    state = torch.load(inception_weights)
    monkeypatch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: state)


def _photo(name: str = "chelsea") -> torch.Tensor:
    return torch.from_numpy(getattr(data, name)()).permute(2, 0, 1)[None].float() / 255.0


def test_pytorch_fid_model_loads_strictly_into_ours(pytorch_fid_loads):
    theirs = inception.fid_inception_v3()
    ours = FIDInception3()
    assert ours.load_state_dict(theirs.state_dict(), strict=True)
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_legacy_features_equal_pytorch_fid(pytorch_fid_loads, inception_weights):
    """Same weights, same input: pytorch-fid's InceptionV3 (its bilinear resize and 2x-1)
    and our metric with ``resize=legacy`` give the same pool3 features."""
    theirs = inception.InceptionV3([3], resize_input=True, normalize_input=True).eval()
    ours = FIDMetric(weights=str(inception_weights), resize="legacy")
    images = torch.cat([_photo("chelsea")[..., :300, :300], _photo("astronaut")[..., :300, :300]])
    with torch.inference_mode():
        expected = theirs(images)[0].flatten(1).numpy()
    features = ours.features(images)
    assert features.shape == (2, 2048) and features.dtype == np.float32
    assert np.abs(expected).max() > 1e-3 and np.abs(expected[0] - expected[1]).max() > 1e-3
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["chelsea", "astronaut"])
def test_clean_resize_equals_clean_fid(name):
    image = getattr(data, name)()
    expected = resize.make_resizer("PIL", False, "bicubic", (299, 299))(image)
    ours = clean_resize(torch.from_numpy(image).permute(2, 0, 1)[None] / 255.0)
    np.testing.assert_allclose(ours[0].permute(1, 2, 0).numpy() * 255.0, expected, atol=2e-4)


def test_legacy_resize_equals_clean_fids_legacy_pytorch():
    image = data.chelsea()
    expected = resize.make_resizer("PyTorch", False, "bilinear", (299, 299))(image)
    ours = legacy_resize(torch.from_numpy(image).permute(2, 0, 1)[None] / 255.0)
    np.testing.assert_allclose(ours[0].permute(1, 2, 0).numpy() * 255.0, expected, atol=2e-4)


def test_clean_metric_uses_clean_fids_resize(inception_weights):
    """``resize=clean`` (the default) feeds the network clean-fid's resized image."""
    metric = FIDMetric(weights=str(inception_weights))
    image = data.coffee()
    resized = resize.make_resizer("PIL", False, "bicubic", (299, 299))(image)
    network_input = torch.from_numpy(resized).permute(2, 0, 1)[None] / 255.0 * 2 - 1
    with torch.inference_mode():
        expected = metric.net.pool3(network_input).numpy()
    features = metric.features(torch.from_numpy(image).permute(2, 0, 1)[None] / 255.0)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_item_stats_pair_sr_and_gt_features(inception_weights):
    metric = KIDMetric(weights=str(inception_weights), num_subsets=3)
    gt, sr = _photo("chelsea")[..., :64, :64], _photo("chelsea")[..., 64:128, :64]
    stats = metric.item_stats(sr, metric.reference(gt, []))
    assert len(stats) == 1 and set(stats[0]) == {"sr", "gt"}
    np.testing.assert_array_equal(stats[0]["gt"], metric.features(gt)[0])
    np.testing.assert_array_equal(stats[0]["sr"], metric.features(sr)[0])


def test_offline_without_weights_names_the_file_and_the_option(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    for factory, name in ((FIDMetric, "fid"), (KIDMetric, "kid")):
        with pytest.raises(WeightsUnavailableError) as raised:
            factory()
        assert INCEPTION.filename in raised.value.message
        assert INCEPTION.url in raised.value.hint
        assert f"--set {name}.weights=PATH" in raised.value.hint


def test_a_wrong_checkpoint_is_refused_naming_it(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(WeightsUnavailableError, match="not a checkpoint of the FID Inception"):
        FIDMetric(weights=str(wrong))


def test_prefetch_downloads_the_published_file(tmp_path, monkeypatch, inception_weights):
    import shutil

    import torch.hub

    asked = []

    def download(url, dst, progress=True):
        asked.append(url)
        shutil.copyfile(inception_weights, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path))
    monkeypatch.delenv("SEMFID_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # other tests' imports may set it
    assert isinstance(FIDMetric, DeclaresWeights)
    outcome = prefetch_plugin(build_registry(), "metric", "kid", {}, 4)
    assert outcome.error is None
    assert outcome.paths == [tmp_path / "weights" / INCEPTION.filename]
    assert asked == [INCEPTION.url]


def test_unknown_resize_is_refused(inception_weights):
    with pytest.raises(ValueError, match="resize must be one of"):
        FIDMetric(weights=str(inception_weights), resize="bicubic")


def test_pyiqa_fid_refuses_pointing_to_fid():
    with pytest.raises(PluginError, match="pyiqa:fid compares two folders") as raised:
        build_registry().get("metric", "pyiqa:fid")
    assert "--metrics fid" in raised.value.hint
