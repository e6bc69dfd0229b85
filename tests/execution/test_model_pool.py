"""Model lifecycle under ``--gpu-memory``: resident while estimates fit, least recently
used released first, unknown sizes alone and per chunk; no budget keeps everything."""

from __future__ import annotations

from typing import ClassVar

import pytest

from semfid_bench.execution.executors.models import ModelPool
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.specs import MetricSpec, SRModelSpec


def _pool(budget, **estimates):
    return ModelPool(lambda name: object(), estimates, budget)


def test_models_stay_while_they_fit_and_the_least_recently_used_goes_first():
    pool = _pool(10.0, a=4.0, b=4.0, c=4.0)
    pool.get("a"), pool.get("b"), pool.get("a")
    assert pool.resident() == ["b", "a"]
    pool.get("c")  # 12 > 10: b (least recently used) goes
    assert pool.resident() == ["a", "c"] and pool.loads == ["a", "b", "c"]
    pool.end_chunk()  # known sizes stay across chunks
    assert pool.resident() == ["a", "c"]


def test_a_model_of_unknown_size_is_alone_and_released_after_its_chunk():
    pool = _pool(10.0, a=4.0, u=None)
    pool.get("a"), pool.get("u")
    assert pool.resident() == ["u"]
    pool.end_chunk()
    assert pool.resident() == []
    pool.get("u")
    assert pool.loads == ["a", "u", "u"]


def test_without_a_budget_every_model_stays():
    pool = _pool(None, a=40.0, u=None)
    for name in ["a", "u", "a", "u"]:
        pool.get(name)
    pool.end_chunk()
    assert pool.resident() == ["a", "u"] and pool.loads == ["a", "u"]


class Sized:
    """Two interpolation models with 3 GiB estimates, and a metric of 2 GiB."""

    created: ClassVar[list[str]] = []

    @hookimpl
    def register_sr_models(self, register):
        from semfid_bench.sr_models.interpolation import InterpolationUpscaler

        for name in ("big-a", "big-b"):

            def factory(name=name, **options):
                Sized.created.append(name)
                return InterpolationUpscaler(mode="bicubic", **options)

            register.add(SRModelSpec(name=name, gpu_memory_gib=3.0), factory)

    @hookimpl
    def register_metrics(self, register):
        spec = MetricSpec(name="psnr-2g", higher_is_better=True, gpu_memory_gib=2.0)
        register.add(spec, "semfid_bench.metrics.pixel:make_psnr")


@pytest.mark.parametrize(("budget", "loads"), [(None, 2), (8.0, 2), (6.0, 2 * 2 + 2)])
def test_a_run_loads_models_by_the_budget(make_registry, store, crops_manifest, budget, loads):
    """8 GiB: both models (3 + 3) fit beside the metric (2). 6 GiB: one at a time, so
    each chunk (one item) loads both again after the up-front pass (which checks weights
    and records execution)."""
    Sized.created = []
    config = RunConfig(
        models=["big-a", "big-b"],
        metrics=["psnr-2g"],
        degradations=["bicubic"],
        manifest=crops_manifest,
        device="cpu",
        gpu_memory_gib=budget,
    )
    summary = run_benchmark(config, make_registry(Sized()), store)
    assert summary.computed == 4 and not summary.errors
    assert len(Sized.created) == loads, Sized.created


def test_a_budget_the_metrics_fill_is_refused(make_registry, store, crops_manifest):
    config = RunConfig(
        models=["big-a"],
        metrics=["psnr-2g"],
        degradations=["bicubic"],
        manifest=crops_manifest,
        device="cpu",
        gpu_memory_gib=2.0,
    )
    with pytest.raises(SemfidError, match="metrics alone"):
        run_benchmark(config, make_registry(Sized()), store)


def test_estimates_are_validated():
    with pytest.raises(ValueError, match="gpu_memory_gib"):
        SRModelSpec(name="x", gpu_memory_gib=-1.0)
    with pytest.raises(ValueError, match="gpu_memory_gib"):
        MetricSpec(name="x", higher_is_better=True, gpu_memory_gib=float("nan"))
