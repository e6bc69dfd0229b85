"""Choosing an executor: Ray is optional and named when missing; bad values are refused."""

from __future__ import annotations

import sys

import pytest

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.plugin_manager import build_registry


@pytest.fixture
def registry():
    return build_registry()


def _config(crops_manifest, **changes) -> RunConfig:
    return RunConfig(
        models=["bicubic"],
        metrics=["psnr"],
        degradations=["bicubic"],
        manifest=crops_manifest,
        device="cpu",
        **changes,
    )


def test_without_ray_the_ray_executor_says_how_to_install_it(
    registry, store, crops_manifest, monkeypatch
):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(SemfidError) as raised:
        run_benchmark(_config(crops_manifest, executor="ray"), registry, store)
    assert 'pip install "semfid-bench[ray]"' in raised.value.hint
    assert store.results().empty


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"executor": "dask"}, "--executor"),
        ({"batch_size": 0}, "--batch-size"),
        ({"chunk_items": 0}, "--chunk-items"),
        ({"gpu_memory_gib": 0.0}, "--gpu-memory"),
    ],
)
def test_bad_execution_settings_are_refused(registry, store, crops_manifest, changes, message):
    with pytest.raises(SemfidError, match=message):
        run_benchmark(_config(crops_manifest, **changes), registry, store)
