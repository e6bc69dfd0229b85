"""Real-ESRGAN specifics: published sampling rates and ranges (against BasicSR), scaling."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from scipy import stats

from semfid_bench.degradations import ops
from semfid_bench.degradations.bicubic import BicubicDownscale
from semfid_bench.degradations.realesrgan import (
    RealESRGANDegradation,
    RealESRGANUSMDegradation,
    sample_kernel,
)

# Kernel types and probabilities of options/train_realesrgan_x4plus.yml.
PUBLISHED_KERNELS = {
    "iso": 0.45,
    "aniso": 0.25,
    "generalized_iso": 0.12,
    "generalized_aniso": 0.03,
    "plateau_iso": 0.12,
    "plateau_aniso": 0.03,
}


def _traces(photographs, level: float, seeds: int = 300):
    hr = photographs["astronaut"][:, 100:164, 100:164]
    model = RealESRGANDegradation(scale=4)
    return [model.trace(hr, level=level, seed=seed)[1] for seed in range(seeds)]


def _rate(traces, prefix: str) -> float:
    return float(np.mean([any(s.name.startswith(prefix) for s in steps) for steps in traces]))


def test_level_one_samples_the_published_rates_and_ranges(photographs):
    traces = _traces(photographs, 1.0)
    steps = [step for trace in traces for step in trace]
    assert _rate(traces, "stage 1") == 1.0
    stage2_blur = np.mean(
        [any(s.name.startswith("stage 2") and "blur" in s.name for s in t) for t in traces]
    )
    assert stage2_blur == pytest.approx(0.8, abs=0.07)
    assert _rate(traces, "final sinc") == pytest.approx(0.8, abs=0.07)
    assert _rate(traces, "stage 1 sinc") == pytest.approx(0.1, abs=0.05)
    assert _rate(traces, "stage 1 poisson") == pytest.approx(0.5, abs=0.08)
    qualities = [s.params["quality"] for s in steps if s.name.endswith("jpeg")]
    assert min(qualities) >= 30 and max(qualities) <= 95 and max(qualities) - min(qualities) > 55
    stage1 = [s.params["sigma"] for s in steps if s.name == "stage 1 gaussian noise"]
    stage2 = [s.params["sigma"] for s in steps if s.name == "stage 2 gaussian noise"]
    assert min(stage1) >= 1 and max(stage1) <= 30 and max(stage1) > 25
    assert min(stage2) >= 1 and max(stage2) <= 25
    factors = [s.params["factor"] for s in steps if s.name == "stage 1 resize"]
    assert 0.15 <= min(factors) < 0.2 and 1.45 < max(factors) <= 1.5
    factors = [s.params["factor of LR size"] for s in steps if s.name == "stage 2 resize"]
    assert 0.3 <= min(factors) < 0.35 and 1.15 < max(factors) <= 1.2
    assert factors.count(1.0) / len(factors) == pytest.approx(0.3, abs=0.08)
    sizes = {s.params["size"] for s in steps if "size" in s.params}
    assert sizes == set(range(7, 22, 2))
    kinds = {s.name.split()[2] for s in steps if s.name.startswith("stage") and "blur" in s.name}
    assert kinds == {*PUBLISHED_KERNELS, "sinc"}


def test_level_scales_quality_range_and_optional_step_rates(photographs):
    traces = _traces(photographs, 0.3)
    qualities = [s.params["quality"] for t in traces for s in t if s.name.endswith("jpeg")]
    assert min(qualities) >= 79 and max(qualities) <= 99
    assert _rate(traces, "final sinc") == pytest.approx(0.24, abs=0.07)
    sigmas = [s.params["sigma_x"] for t in traces for s in t if "sigma_x" in s.params]
    assert max(sigmas) <= 0.3 * 3.0 + 1e-9


def test_level_scales_resampling_factors_not_their_probability(photographs):
    traces = _traces(photographs, 0.3)
    steps = [step for trace in traces for step in trace]
    stage1 = [s.params["factor"] for s in steps if s.name == "stage 1 resize"]
    assert len(stage1) / len(traces) == pytest.approx(0.9, abs=0.06)  # all but "keep"
    assert 0.15**0.3 <= min(stage1) < 0.2**0.3 and 1.45**0.3 < max(stage1) <= 1.5**0.3
    stage2 = [s.params["factor of LR size"] for s in steps if s.name == "stage 2 resize"]
    assert len(stage2) == len(traces)
    assert 0.3**0.3 <= min(stage2) < 0.35**0.3 and 1.15**0.3 < max(stage2) <= 1.2**0.3


@pytest.mark.parametrize(("sigma_range", "seed"), [((0.2, 3.0), 0), ((0.2, 1.5), 1)])
def test_kernel_sampling_matches_basicsr(basicsr, monkeypatch, sigma_range, seed):
    """Stage-1 and stage-2 kernels drawn as BasicSR's ``random_mixed_kernels`` draws them
    (the Real-ESRGAN dataset's call): kernel types, widths, angles and shapes."""
    from basicsr.data import degradations

    theirs: list[tuple[str, dict]] = []

    def recorder(function, prefix: str):
        def recording(size, sig_x, sig_y, theta, *beta, isotropic=True, **kwargs):
            kind = prefix + ("iso" if isotropic else "aniso")
            theirs.append((kind, {"sigma_x": sig_x, "theta": theta, "beta": (beta or [None])[0]}))
            return function(size, sig_x, sig_y, theta, *beta, isotropic=isotropic, **kwargs)

        return recording

    for name, prefix in (
        ("bivariate_Gaussian", ""),
        ("bivariate_generalized_Gaussian", "generalized_"),
        ("bivariate_plateau", "plateau_"),
    ):
        monkeypatch.setattr(degradations, name, recorder(getattr(degradations, name), prefix))
    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    random.seed(seed)
    ours = []
    for _ in range(2000):
        kernel, step = sample_kernel(rng, sigma_range, 1.0, sinc_prob=0.0)
        ours.append((step.name.removesuffix(" blur"), step.params))
        degradations.random_mixed_kernels(
            list(PUBLISHED_KERNELS),
            list(PUBLISHED_KERNELS.values()),
            kernel.shape[0],
            sigma_range,
            sigma_range,
            [-math.pi, math.pi],
            [0.5, 4],
            [1, 2],
            noise_range=None,
        )
    counts = [
        [sum(k == kind for k, _ in draws) for kind in PUBLISHED_KERNELS] for draws in (ours, theirs)
    ]
    assert stats.chi2_contingency(counts).pvalue > 0.01, counts
    for kinds, name in (
        (PUBLISHED_KERNELS, "sigma_x"),
        (("aniso", "generalized_aniso", "plateau_aniso"), "theta"),
        (("generalized_iso", "generalized_aniso"), "beta"),
        (("plateau_iso", "plateau_aniso"), "beta"),
    ):
        mine, reference = (
            [params[name] for kind, params in draws if kind in kinds] for draws in (ours, theirs)
        )
        assert stats.ks_2samp(mine, reference).pvalue > 0.01, (kinds, name)


def test_usm_variant_degrades_the_unsharp_masked_image(photographs):
    """``realesrgan-usm`` = the same draws applied to BasicSR's USM-sharpened GT; level 0
    is still plain bicubic."""
    hr = photographs["chelsea"][:, :96, :128]
    image = np.ascontiguousarray(hr.permute(1, 2, 0).numpy())
    sharpened = torch.from_numpy(ops.unsharp_mask(image, 0.5)).permute(2, 0, 1)
    for seed in range(3):
        usm = RealESRGANUSMDegradation(scale=4).degrade(hr, level=1.0, seed=seed)
        plain = RealESRGANDegradation(scale=4).degrade(sharpened, level=1.0, seed=seed)
        assert torch.equal(usm, plain)
    bicubic = BicubicDownscale(scale=4).degrade(hr)
    assert torch.equal(RealESRGANUSMDegradation(scale=4).degrade(hr, level=0.0, seed=0), bicubic)


def test_unsharp_mask_equals_basicsr(basicsr, photographs):
    from basicsr.utils.img_process_util import usm_sharp

    image = np.ascontiguousarray(photographs["coffee"].permute(1, 2, 0).numpy())
    sharpened = ops.unsharp_mask(image, 0.5)
    np.testing.assert_allclose(sharpened, usm_sharp(image, weight=0.5), rtol=0, atol=1e-6)
    assert np.abs(sharpened - image).max() > 0.05


def test_poisson_noise_in_the_pipeline_has_basicsr_strength(photographs, monkeypatch):
    """Through the pipeline (after blur and resize), Poisson steps add noise of a few /255
    per unit scale, not the ~0.2/255 that counting float levels gave."""
    original, added = ops.poisson_noise, []

    def measured(image, scale, rng, *, grey):
        out = original(image, scale, rng, grey=grey)
        added.append(float(np.std(out - np.clip(image, 0, 1))) * 255 / scale)
        return out

    monkeypatch.setattr(ops, "poisson_noise", measured)
    hr = photographs["coffee"][:, :128, :128]
    for seed in range(30):
        RealESRGANDegradation(scale=4).degrade(hr, level=1.0, seed=seed)
    assert len(added) > 10 and np.median(added) > 4.0, sorted(added)
