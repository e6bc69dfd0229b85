"""Degradations per second at 512×512 input, against bicubic downscaling in the same run.

Run with ``pytest tests/bench --benchmark-enable`` to measure; in the normal suite each
benchmark runs once as a smoke test. Seeds vary per round, since the sampled steps (and so
the cost) vary per seed.
"""

from __future__ import annotations

import itertools
import time

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.degradations.bicubic import BicubicDownscale, resize_bicubic
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST


@pytest.fixture(scope="module")
def hr512() -> torch.Tensor:
    """The astronaut photograph enlarged to 512×512."""
    return resize_bicubic(load_image(SAMPLE_MANIFEST.parent / "astronaut.png"), (512, 512))


def _seconds_per_call(function, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls


@pytest.mark.parametrize("name", ["bsrgan", "realesrgan", "realesrgan-usm"])
@pytest.mark.parametrize("level", [0.3, 1.0])
def test_degradations_per_second_at_512(benchmark, hr512, name, level):
    registry = build_registry(make_plugin_manager(load_entry_points=False))
    model = registry.create("degradation", name, scale=4, device=torch.device("cpu"))
    seeds = itertools.count()
    started = time.perf_counter()
    lr = benchmark.pedantic(
        lambda: model.degrade(hr512, level=level, seed=next(seeds)),
        rounds=20,
        iterations=1,
        warmup_rounds=1,
    )
    assert lr.shape == (3, 128, 128)
    seconds = benchmark.stats.stats.mean if benchmark.stats else time.perf_counter() - started
    bicubic = BicubicDownscale(scale=4)
    reference = _seconds_per_call(lambda: bicubic.degrade(hr512), 3 if benchmark.disabled else 20)
    benchmark.extra_info["degradations_per_second"] = 1.0 / seconds
    benchmark.extra_info["bicubic_per_second"] = 1.0 / reference
    benchmark.extra_info["time_vs_bicubic"] = seconds / reference
