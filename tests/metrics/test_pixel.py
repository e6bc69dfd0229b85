"""PSNR/SSIM against pyiqa configured the same way, and against BasicSR's formulas."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semfid_bench.images import load_image, quantize
from semfid_bench.manifest import load_manifest
from semfid_bench.metrics.pixel import psnr, rgb_to_y, ssim

pyiqa = pytest.importorskip("pyiqa")

CONVENTIONS = [
    # (our function, our kwargs, pyiqa name, pyiqa kwargs)
    (psnr, {}, "psnr", {}),
    (ssim, {}, "ssimc", {}),
    (
        psnr,
        {"y_channel": True, "crop_border": 4},
        "psnr",
        {"test_y_channel": True, "color_space": "ycbcr", "crop_border": 4},
    ),
    (
        ssim,
        {"y_channel": True, "crop_border": 4},
        "ssim",
        {"test_y_channel": True, "color_space": "ycbcr", "crop_border": 4},
    ),
]


@pytest.fixture(scope="module")
def pairs(request):
    """(SR, GT) pairs from the sample photographs: bicubic x4 round trip, 8-bit."""
    from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

    out = []
    for item in load_manifest(SAMPLE_MANIFEST):
        gt = load_image(item.gt)[None]
        lr = quantize(F.interpolate(gt, scale_factor=0.25, mode="bicubic", antialias=True))
        out.append((quantize(F.interpolate(lr, scale_factor=4, mode="bicubic")), gt))
    return out


@pytest.mark.parametrize(("ours", "kwargs", "name", "iqa_kwargs"), CONVENTIONS)
def test_equals_pyiqa_on_sample_photographs(pairs, ours, kwargs, name, iqa_kwargs):
    reference = pyiqa.create_metric(name, device="cpu", as_loss=False, **iqa_kwargs)
    for sr, gt in pairs:
        expected = float(reference(sr, gt))
        assert float(ours(sr, gt, **kwargs)) == pytest.approx(expected, abs=1e-4)


def test_batched_equals_one_by_one(pairs):
    sr, gt = pairs[0]
    batch_sr, batch_gt = torch.cat([sr, gt]), torch.cat([gt, gt])
    scores = ssim(batch_sr, batch_gt)
    assert scores.shape == (2,)
    assert float(scores[0]) == pytest.approx(float(ssim(sr, gt)), abs=1e-6)
    assert float(scores[1]) == pytest.approx(1.0, abs=1e-6)


def _basicsr_y(rgb01: torch.Tensor) -> np.ndarray:
    """BasicSR's test_y_channel: BGR float in [0, 1] → Y in [16, 235] (bgr2ycbcr)."""
    bgr = rgb01[0].permute(1, 2, 0).double().numpy()[..., ::-1] * 255.0
    return bgr @ np.array([24.966, 128.553, 65.481]) / 255.0 + 16.0


def test_psnr_y_matches_basicsr_formula(pairs):
    sr, gt = pairs[1]
    y_sr, y_gt = _basicsr_y(sr)[4:-4, 4:-4], _basicsr_y(gt)[4:-4, 4:-4]
    expected = 10 * np.log10(255.0**2 / np.mean((y_sr - y_gt) ** 2))
    assert float(psnr(sr, gt, y_channel=True, crop_border=4)) == pytest.approx(expected, abs=1e-4)
    assert torch.allclose(rgb_to_y(gt.double())[0, 0], torch.from_numpy(_basicsr_y(gt)), atol=1e-9)


def test_identical_images_are_perfect(pairs):
    _, gt = pairs[2]
    assert float(ssim(gt, gt)) == pytest.approx(1.0, abs=1e-6)
    assert float(psnr(gt, gt)) == pytest.approx(80.0, abs=1e-3)  # 10·log10(1 / 1e-8)
