"""Executor throughput: the local executor at batch 1 vs 8, and the Ray executor with 1 vs
2 workers on a CPU-bound model, with its overhead per cell against the local executor.

Run with ``pytest tests/bench/test_bench_scale.py --benchmark-enable``; in the normal suite
each benchmark runs once as a smoke test (the Ray ones only where Ray is installed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from semfid_bench.datasets.manifest import write_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.plugin_manager import build_registry

SAMPLE = Path(__file__).parents[2] / "semfid_bench" / "data" / "sample"
ROOT = Path(__file__).parents[2]


def _crops(folder: Path, count: int = 8, size: int = 128) -> Path:
    """``count`` equal-size crops of the sample photographs (equal sizes batch together)."""
    names = sorted(p.stem for p in SAMPLE.glob("*.png"))
    rows = []
    for n in range(count):
        name = names[n % len(names)]
        with Image.open(SAMPLE / f"{name}.png") as photo:
            left = 16 * (n // len(names))
            crop = photo.convert("RGB").crop((left, 0, left + size, size))
            crop.save(folder / f"c{n}.png")
        rows.append({"id": f"c{n}", "gt": f"c{n}.png"})
    write_manifest(folder / "crops.jsonl", "crops", rows)
    return folder / "crops.jsonl"


def _timed(benchmark, tmp_path: Path, config: RunConfig, rounds: int = 3):
    counter = iter(range(10**6))

    def run_once():
        with ResultsStore(tmp_path / f"r{next(counter)}.db") as store:
            return run_benchmark(config, build_registry(), store)

    summary = benchmark.pedantic(run_once, rounds=rounds, iterations=1, warmup_rounds=1)
    assert not summary.errors, summary.errors[:3]
    seconds = benchmark.stats.stats.mean if benchmark.stats else summary.seconds
    benchmark.extra_info["items_per_second"] = summary.items / seconds
    benchmark.extra_info["seconds_per_cell"] = seconds / max(1, summary.computed)
    return summary


@pytest.mark.parametrize("batch_size", [1, 8])
def test_local_items_per_second_by_batch_size(benchmark, tmp_path, batch_size):
    """psnr/ssim/lpips-sized work: two models, three levels, eight 128² crops."""
    from torchvision.models import alexnet

    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), tmp_path / "alexnet.pth")
    config = RunConfig(
        models=["bicubic", "nearest"],
        metrics=["psnr", "ssim", "lpips"],
        manifest=_crops(tmp_path),
        device="cpu",
        batch_size=batch_size,
        options={"lpips": {"alexnet_weights": str(tmp_path / "alexnet.pth")}},
    )
    summary = _timed(benchmark, tmp_path, config)
    assert summary.computed == 8 * 3 * 2 * 3


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}},
    )
    yield
    ray.shutdown()


def _swinir(tmp_path: Path) -> str:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "tiny_checkpoints", ROOT / "tests" / "sr_models" / "checkpoints.py"
    )
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    path = tmp_path / "swinir.pth"
    return str(tiny.write_checkpoint(tiny.make_swinir_state(True, 0), path, "params_ema"))


@pytest.mark.slow
@pytest.mark.parametrize("executor,workers", [("local", 1), ("ray", 1), ("ray", 2)])
def test_items_per_second_by_ray_workers(benchmark, cluster, tmp_path, executor, workers):
    """A CPU-bound model (SwinIR, tiny random weights) with one thread per worker; the
    local run (one thread too) is the baseline for Ray's overhead per cell."""
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        config = RunConfig(
            models=["swinir"],
            metrics=["psnr"],
            degradations=["bicubic"],
            manifest=_crops(tmp_path, count=8, size=96),
            device="cpu",
            executor=executor,
            workers=workers,
            options={"swinir": {"weights": _swinir(tmp_path), "tile": 0}},
        )
        summary = _timed(benchmark, tmp_path, config, rounds=2)
    finally:
        torch.set_num_threads(torch_threads)
    assert summary.computed == 8
