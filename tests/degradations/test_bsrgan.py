"""BSRGAN specifics: step order, noise, and parity with the authors' code (fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy import stats
from skimage import data

from semfid_bench.degradations import kernels, ops
from semfid_bench.degradations.bsrgan import BSRGANDegradation, shuffled_order

PARITY = Path(__file__).parents[1] / "fixtures" / "parity"


def test_downsample_2_always_precedes_downsample_3():
    orders = [shuffled_order(np.random.default_rng(seed)) for seed in range(200)]
    assert all(sorted(order) == list(range(6)) for order in orders)
    assert all(order.index(2) < order.index(3) for order in orders)
    assert len({tuple(order) for order in orders}) > 100  # genuinely shuffled


def test_lr_noise_variance_on_a_flat_image_rises_with_level():
    flat = torch.full((3, 96, 96), 0.5)
    model = BSRGANDegradation(scale=4)
    variances = [
        np.mean([float(model.degrade(flat, level=level, seed=s).var()) for s in range(12)])
        for level in (0.0, 0.3, 0.7, 1.0)
    ]
    assert variances[0] < 1e-10
    assert variances[0] < variances[1] < variances[2] < variances[3], variances


def _traces(photographs, level: float, seeds: int = 300):
    hr = photographs["astronaut"][:, 100:164, 100:164]
    model = BSRGANDegradation(scale=4)
    return [model.trace(hr, level=level, seed=seed)[1] for seed in range(seeds)]


def _rate(traces, name: str) -> float:
    return float(np.mean([any(step.name == name for step in steps) for steps in traces]))


def test_level_one_samples_the_published_ranges(photographs):
    traces = _traces(photographs, 1.0)
    steps = [step for trace in traces for step in trace]
    assert _rate(traces, "pre-downsample") == pytest.approx(0.25, abs=0.07)
    assert _rate(traces, "jpeg") == pytest.approx(0.9, abs=0.06)
    assert _rate(traces, "final jpeg") == 1.0
    qualities = [s.params["quality"] for s in steps if s.name.endswith("jpeg")]
    assert min(qualities) >= 30 and max(qualities) <= 95 and max(qualities) - min(qualities) > 55
    sigmas = [s.params["sigma"] for s in steps if s.params.get("kind") in ("grey", "colour")]
    assert min(sigmas) >= 2 - 1e-9 and max(sigmas) <= 25 + 1e-9
    kinds = [s.params["kind"] for s in steps if s.name == "gaussian noise"]
    assert kinds.count("correlated") / len(kinds) == pytest.approx(0.2, abs=0.07)
    sizes = [s.params["size"] for s in steps if "gaussian blur" in s.name]
    assert set(sizes) <= set(range(7, 26, 2)) and min(sizes) == 7 and max(sizes) == 25
    factors = [s.params["factor"] for s in steps if "factor" in s.params]
    assert min(factors) >= 1.0 and max(factors) <= 8.0


def test_level_scales_quality_range_and_optional_step_rates(photographs):
    traces = _traces(photographs, 0.3)
    qualities = [s.params["quality"] for t in traces for s in t if s.name.endswith("jpeg")]
    assert min(qualities) >= 79 and max(qualities) <= 99
    assert _rate(traces, "jpeg") == pytest.approx(0.27, abs=0.07)
    # Resampling scales in strength, not in probability: f^0.3 for a published factor f.
    assert _rate(traces, "pre-downsample") == pytest.approx(0.25, abs=0.07)
    steps = [step for trace in traces for step in trace]
    assert {s.params["factor"] for s in steps if s.name == "pre-downsample"} == {2**0.3}
    factors = [
        s.params["factor"] for s in steps if "factor" in s.params and s.name != "pre-downsample"
    ]
    assert min(factors) >= 1.0 and 1.8 < max(factors) <= 8**0.3


def _fixture(name: str) -> dict:
    return json.loads((PARITY / name).read_text())


def test_correlated_noise_matches_the_reference_distribution(monkeypatch):
    """Inter-channel correlations as the authors' ``add_Gaussian_noise`` samples them.

    Fixture: the covariances latent-diffusion's code passes to multivariate_normal (its
    element-wise abs makes every pair correlate positively, mean r ≈ 0.27).
    """
    reference = np.array(_fixture("bsrgan_correlated_noise.json")["correlations"])
    covariances = []
    monkeypatch.setattr(
        ops, "correlated_noise", lambda image, cov, rng: covariances.append(cov) or image
    )
    flat = np.full((4, 4, 3), 0.5, np.float32)
    seed = 0
    while len(covariances) < len(reference):
        BSRGANDegradation._noise(flat, 1.0, np.random.default_rng(seed), [])
        seed += 1
    ours = []
    for cov in covariances:
        std = np.sqrt(np.diag(cov))
        ours.append((cov / np.outer(std, std))[np.triu_indices(3, 1)])
    ours = np.array(ours)
    assert ours.mean() == pytest.approx(reference.mean(), abs=0.04)
    assert stats.ks_2samp(ours.ravel(), reference.ravel()).pvalue > 0.01


def test_level_one_psnr_distribution_matches_the_reference():
    """Per-seed difficulty at level 1.0 is distributed as latent-diffusion's
    ``degradation_bsrgan_variant`` on the same photograph (fixture: 200 seeds)."""
    fixture = _fixture("bsrgan_level1_psnr.json")
    (top, bottom), (left, right) = fixture["crop"]
    gt = data.astronaut()[top:bottom, left:right]
    hr = torch.from_numpy(gt).permute(2, 0, 1).float() / 255.0
    model = BSRGANDegradation(scale=4)
    ours = []
    for seed in range(len(fixture["psnr"])):
        lr = (model.degrade(hr, level=1.0, seed=seed) * 255).round().byte()
        up = cv2.resize(lr.permute(1, 2, 0).numpy(), gt.shape[1::-1], interpolation=cv2.INTER_CUBIC)
        ours.append(10 * np.log10(255.0**2 / np.mean((up - gt.astype(np.float64)) ** 2)))
    reference = np.array(fixture["psnr"])
    assert np.mean(ours) == pytest.approx(reference.mean(), abs=0.5)
    assert np.std(ours) == pytest.approx(reference.std(), rel=0.2)
    assert stats.ks_2samp(ours, reference).pvalue > 0.01


def test_blur_kernels_equal_the_reference():
    """``anisotropic_Gaussian`` (variances l1, l2 along θ) and ``fspecial('gaussian')``."""
    fixture = _fixture("bsrgan_kernels.json")
    for case in fixture["anisotropic"]:
        ours = kernels.gaussian(case["size"], case["l1"], case["l2"], case["theta"])
        np.testing.assert_allclose(ours, case["kernel"], rtol=0, atol=1e-7)
    for case in fixture["isotropic"]:
        ours = kernels.gaussian(case["size"], case["sigma"] ** 2, case["sigma"] ** 2)
        np.testing.assert_allclose(ours, case["kernel"], rtol=0, atol=1e-7)


def test_shifted_kernel_is_close_to_the_references_interpolated_one():
    """The reference shifts a centred Gaussian up-left by bilinear interpolation and
    convolves (``ndimage.convolve`` flips it); we correlate with the Gaussian shifted
    down-right: the same operation when ours equals the flipped reference kernel. They
    differ where interpolation widens a narrow kernel (documented)."""
    for case in _fixture("bsrgan_kernels.json")["shifted"]:
        ours = kernels.shifted_gaussian(25, case["sigma"], (case["sf"] - 1) / 2)
        reference = np.array(case["kernel"])[::-1, ::-1]
        y, x = np.indices(reference.shape)
        for k in (ours, reference):  # same centroid: (sf - 1) / 2 px right of and below centre
            assert (k * x).sum() == pytest.approx(12 + (case["sf"] - 1) / 2, abs=1e-3)
            assert (k * y).sum() == pytest.approx(12 + (case["sf"] - 1) / 2, abs=1e-3)
        assert np.abs(ours - reference).max() < 0.05
