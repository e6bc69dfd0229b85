"""PSNR/SSIM against pyiqa configured the same way, and against BasicSR's formulas."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semfid_bench.datasets.images import load_image, quantize
from semfid_bench.datasets.manifest import load_manifest
from semfid_bench.metrics import pixel
from semfid_bench.metrics.pixel import psnr, rgb_to_y, ssim

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
    pyiqa = pytest.importorskip("pyiqa", reason="pyiqa is the optional 'iqa' extra")
    reference = pyiqa.create_metric(name, device="cpu", as_loss=False, **iqa_kwargs)
    for sr, gt in pairs:
        expected = float(reference(sr, gt))
        tolerance = 1e-4 if ours is psnr else 5e-6  # float32 vs pyiqa's float64 SSIM
        assert float(ours(sr, gt, **kwargs)) == pytest.approx(expected, abs=tolerance)


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


def _basicsr_input(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) RGB in [0, 1] → BasicSR's HWC BGR array in [0, 255]."""
    return np.ascontiguousarray(image[0].permute(1, 2, 0).double().numpy()[..., ::-1] * 255.0)


# (ours, kwargs, BasicSR function name, crop_border, test_y_channel). BasicSR's SSIM (like
# Wang's MATLAB code) does not clamp the contrast-structure term at 0 as pyiqa and our
# metrics do (``nonnegative_cs``), nor does it round Y to integers before SSIM as pyiqa and
# we do: the Y case rounds BasicSR's Y (without, the two differ by ~1e-3 here). PSNR: our
# (pyiqa's) 1e-8 guard on the MSE moves it by ~2e-5 dB.
BASICSR = [
    (psnr, {}, "calculate_psnr", 0, False),
    (psnr, {"y_channel": True, "crop_border": 4}, "calculate_psnr", 4, True),
    (ssim, {"nonnegative_cs": False}, "calculate_ssim", 0, False),
    (
        ssim,
        {"y_channel": True, "crop_border": 4, "nonnegative_cs": False},
        "calculate_ssim",
        4,
        True,
    ),
]


@pytest.mark.parametrize(("ours", "kwargs", "name", "crop", "y"), BASICSR)
def test_equals_basicsr_on_sample_photographs(
    basicsr, pairs, monkeypatch, ours, kwargs, name, crop, y
):
    from basicsr.metrics import psnr_ssim

    if ours is ssim:
        to_y = psnr_ssim.to_y_channel
        monkeypatch.setattr(psnr_ssim, "to_y_channel", lambda image: to_y(image).round())
    reference = getattr(psnr_ssim, name)
    for sr, gt in pairs:
        expected = reference(
            _basicsr_input(sr), _basicsr_input(gt), crop_border=crop, test_y_channel=y
        )
        assert float(ours(sr, gt, **kwargs)) == pytest.approx(
            expected, abs=1e-4 if ours is psnr else 2e-6
        )


def test_ssim_clamps_negative_contrast_structure_as_pyiqa(pairs):
    sr, gt = pairs[0]
    assert float(ssim(sr, gt)) > float(ssim(sr, gt, nonnegative_cs=False)) + 1e-5


def test_opencv_and_torch_blurs_agree():
    """The CPU (OpenCV) and the other devices' (torch) separable blur give the same values."""
    stack = torch.rand(2, 5, 40, 37, generator=torch.Generator().manual_seed(0))
    kernel = pixel._gaussian_1d()
    opencv = pixel._blur_valid_opencv(stack, kernel)
    assert opencv.shape == (2, 5, 30, 27)
    torch.testing.assert_close(opencv, pixel._blur_valid_torch(stack, kernel), atol=1e-6, rtol=0)


def test_half_precision_input_scores_as_float(pairs):
    sr, gt = pairs[3]
    for metric, kwargs in ((psnr, {"y_channel": True, "crop_border": 4}), (ssim, {})):
        exact = float(metric(sr.half().float(), gt.half().float(), **kwargs))
        assert float(metric(sr.half(), gt.half(), **kwargs)) == pytest.approx(exact, abs=1e-5)


def test_ssim_of_an_image_smaller_than_its_window_is_a_clear_error():
    tiny = torch.rand(1, 3, 16, 16)
    with pytest.raises(
        ValueError, match=r"at least 11×11 px after removing a 4-px border; got 8×8"
    ):
        ssim(tiny, tiny, y_channel=True, crop_border=4)
