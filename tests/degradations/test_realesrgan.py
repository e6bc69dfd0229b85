"""Real-ESRGAN specifics: the published sampling rates and ranges, and their scaling."""

from __future__ import annotations

import numpy as np
import pytest

from semfid_bench.degradations.realesrgan import RealESRGANDegradation


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
    assert kinds == {
        "iso",
        "aniso",
        "generalized_iso",
        "generalized_aniso",
        "plateau_iso",
        "plateau_aniso",
        "sinc",
    }


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
