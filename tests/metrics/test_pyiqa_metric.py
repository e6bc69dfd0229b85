"""pyiqa metrics by name, end to end on the sample photographs (metrics without weights)."""

import importlib.util

import pytest
import torch

from semfid_bench.metrics.pixel import psnr
from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.plugin_manager import build_registry

needs_pyiqa = pytest.mark.skipif(
    importlib.util.find_spec("pyiqa") is None,
    reason="pyiqa is the optional 'iqa' extra",
)


@pytest.mark.skipif(importlib.util.find_spec("pyiqa") is not None, reason="pyiqa is installed")
def test_without_the_iqa_extra_a_pyiqa_metric_says_how_to_install_it():
    with pytest.raises(PluginError, match="pyiqa is not installed") as raised:
        build_registry().get("metric", "pyiqa:psnr")
    assert "semfid-bench[iqa]" in raised.value.hint and "Noncommercial" in raised.value.hint


@needs_pyiqa
def test_full_reference_pyiqa_metric_matches_our_psnr(sample_images):
    registry = build_registry()
    metric = registry.create("metric", "pyiqa:psnr", device="cpu", batch_size=3)
    sr = (sample_images + 0.03 * torch.randn(sample_images.shape)).clamp(0, 1)
    scores = metric.score(sr, metric.reference(sample_images, items=[None] * 4))
    assert scores.shape == (4,)
    torch.testing.assert_close(scores, psnr(sr, sample_images), atol=1e-4, rtol=0)


@needs_pyiqa
def test_no_reference_pyiqa_metric_ignores_gt(sample_images):
    registry = build_registry()
    assert not registry.get("metric", "pyiqa:entropy").spec.full_reference
    metric = registry.create("metric", "pyiqa:entropy", device="cpu")
    assert metric.reference(sample_images, items=[None] * 4) is None
    scores = metric.score(sample_images, None)
    flat = metric.score(torch.full_like(sample_images, 0.5), None)
    assert scores.shape == (4,) and (scores > flat).all()
