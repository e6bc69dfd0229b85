"""Known answers of the LR-consistency and correctness metrics on scikit-image photographs
(their equality with opensr-test is tests/metrics/test_lr_parity.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from semfid_bench.datasets.images import quantize
from semfid_bench.degradations.bicubic import BicubicDownscale
from semfid_bench.metrics.correctness import (
    CLASSES,
    CorrectnessMetric,
    Settings,
    classify,
    small_map,
)
from semfid_bench.metrics.lr_consistency import LRConsistency
from tests.metrics.opensr_parity import cases

CASES = cases()
NAMES = ("astronaut", "chelsea", "coffee")
RAW = Settings(border=0, harmonise_spectral=False, harmonise_spatial=False)


def consistency(measure: str, sr, lr, **options) -> float:
    return float(LRConsistency(measure, **options).score(sr[None], None, lr=lr[None])[0])


@pytest.mark.parametrize("name", NAMES)
def test_gt_is_fully_consistent_with_its_bicubic_lr(name):
    hr = CASES[name][2]
    lr = quantize(BicubicDownscale(4).degrade(hr))  # as the runner makes it
    assert consistency("psnr", hr, lr) > 54.1  # 8-bit rounding alone: ≥ 20·log10(510) dB
    assert consistency("mae", hr, lr) <= 0.5 / 255
    assert consistency("sam", hr, lr) < 0.5
    assert consistency("shift", hr, lr) == 0.0
    # opensr-test's bilinear resize is not the degradation's: visibly less consistent.
    assert consistency("psnr", hr, lr, resize="opensr-test") < 45


@pytest.mark.parametrize("name", NAMES)
def test_a_shifted_sr_image_shows_its_shift_in_lr_pixels(name):
    from skimage import data

    photo = torch.from_numpy(getattr(data, name)()).permute(2, 0, 1).float() / 255
    hr, moved = photo[:, 60:188, 100:228], photo[:, 52:180, 100:228]  # 8 HR px = 2 LR px
    lr = quantize(BicubicDownscale(4).degrade(hr))
    assert consistency("shift", moved, lr) == pytest.approx(2.0, abs=0.05)
    assert consistency("psnr", moved, lr) < consistency("psnr", hr, lr) - 10


@pytest.mark.parametrize("name", [*NAMES, "random"])
def test_upsampled_lr_is_omission_only_without_harmonisation(name):
    """SR = LR upsampled as the LR side is (bilinear): no improvement, no hallucination."""
    lr, _, hr = CASES[name]
    up = F.interpolate(lr[None], scale_factor=4, mode="bilinear", antialias=True)[0]
    result = classify(up, lr, hr, RAW)
    assert result.scores == (0.0, 100.0, 0.0)
    assert classify(hr, lr, hr, RAW).scores == (100.0, 0.0, 0.0)  # SR = GT: all improvement


def test_histogram_matching_alone_turns_an_upsampled_lr_into_hallucination():
    """opensr-test's default harmonisation is not neutral (documented in docs/metrics.md)."""
    lr, _, hr = CASES["astronaut"]
    up = F.interpolate(lr[None], scale_factor=4, mode="bilinear", antialias=True)[0]
    spectral = Settings(border=0, harmonise_spatial=False)
    assert classify(up, lr, hr, spectral).scores[2] > 25


@pytest.mark.parametrize(
    ("settings", "stray"), [(RAW, 0), (Settings(), 20)], ids=["raw", "opensr-test-defaults"]
)
def test_planted_patch_is_hallucination_confined_to_the_patch(settings, stray):
    """Exactly the patch without harmonisation. With opensr-test's, histogram matching
    (whose histogram the patch changed) moves dark pixels by a level or two, and the
    normalised difference |x − y| / (x + y) turns a few of them into hallucination."""
    lr, sr, hr = CASES["coffee-patch"]
    border = settings.border * 4
    patch = torch.zeros(hr.shape[-2:], dtype=torch.bool)
    patch[48:80, 40:72] = True
    patch = patch[border : hr.shape[-2] - border, border : hr.shape[-1] - border]
    classes = classify(sr, lr, hr, settings).classes
    hallucinated = classes == CLASSES.index("hallucination")
    assert int((hallucinated & ~patch).sum()) <= stray
    assert hallucinated[patch].float().mean() > 0.95
    assert (classes[~patch & ~classes.isnan()] == 0).float().mean() > 0.95  # the rest is GT


def test_details_hold_all_three_numbers_and_a_small_map():
    lr, sr, hr = CASES["coffee-patch"]
    metric = CorrectnessMetric("hallucination", Settings())
    scores, (details,) = metric.score_with_details(sr[None], hr[None], lr=lr[None])
    result = classify(sr, lr, hr, Settings())
    assert float(scores[0]) == details["hallucination"] == result.scores[2]
    assert (details["improvement"], details["omission"]) == result.scores[:2]
    assert details["counts"] == {c: int((result.classes == k).sum()) for k, c in enumerate(CLASSES)}
    cells = torch.tensor(details["map"])
    assert details["map_stride"] == 2 and cells.shape == (48, 48)
    assert set(cells.unique().tolist()) <= {-1, 0, 1, 2}
    assert (cells[16:32, 12:28] == 2).float().mean() > 0.9  # the patch, every other pixel


def test_small_map_marks_left_out_pixels_and_caps_the_side():
    classes = torch.full((200, 130), float("nan"))
    classes[0, 0] = 1.0
    small = small_map(classes)
    assert small["map_stride"] == 4 and len(small["map"]) == 50 and len(small["map"][0]) == 33
    assert small["map"][0][:2] == [1, -1] and small["counts"]["omission"] == 1


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"norm": "mean"}, "norm must be one of"),
        ({"gradient_threshold": "autoX"}, "gradient_threshold must be"),
        ({"temperature": 0}, "temperature must be positive"),
        ({"border": -1}, "border must be a non-negative integer"),
    ],
)
def test_bad_correctness_options_are_refused(options, problem):
    with pytest.raises(ValueError, match=problem):
        Settings(**options)


def test_mismatched_lr_size_is_a_clear_error():
    lr, sr, _ = CASES["astronaut"]
    with pytest.raises(ValueError, match="not an integer multiple of LR"):
        consistency("mae", sr, lr[:, :31])
    with pytest.raises(ValueError, match="resize must be one of"):
        LRConsistency("mae", resize="lanczos")


def test_half_precision_inputs_are_computed_in_full_precision():
    """Half-precision images (another device's run) are computed in float32/float64; only
    half's rounding of the 8-bit levels (≤ 2⁻¹¹ relative) moves the numbers."""
    lr, sr, hr = CASES["chelsea"]
    for measure in ("psnr", "mae", "sam", "shift"):
        metric = LRConsistency(measure)
        full = metric.score(sr[None], None, lr=lr[None])
        half = metric.score(sr[None].half(), None, lr=lr[None].half())
        assert half.dtype == torch.float32 and torch.allclose(half, full, rtol=1e-3)
    metric = CorrectnessMetric("improvement", Settings())
    full = metric.score(sr[None], hr[None], lr=lr[None])
    half = metric.score(sr[None].half(), hr[None].half(), lr=lr[None].half())
    assert float(half) == pytest.approx(float(full), abs=0.5)  # percentage points
