"""BSRGAN specifics: the step order constraint and noise on a flat image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semfid_bench.degradations.bsrgan import BSRGANDegradation, shuffled_order


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
    assert _rate(traces, "pre-downsample x2") == pytest.approx(0.25, abs=0.07)
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
    assert _rate(traces, "pre-downsample x2") == pytest.approx(0.075, abs=0.05)
