"""Runner throughput on the sample photographs, and memory that stays flat in dataset size.

Run with ``pytest tests/bench --benchmark-enable`` to measure; in the normal suite each
benchmark runs once as a smoke test.
"""

import tracemalloc

from semfid_bench.datasets.manifest import load_manifest, write_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore


def test_runner_items_per_second(benchmark, make_registry, tmp_path, sample_manifest):
    registry = make_registry()
    counter = iter(range(10**6))

    def run_once():
        with ResultsStore(tmp_path / f"r{next(counter)}.db") as store:
            return run_benchmark(
                RunConfig(
                    models=["bicubic", "nearest"],
                    metrics=["psnr", "ssim", "psnr-y", "ssim-y"],
                    device="cpu",
                ),
                registry,
                store,
            )

    summary = benchmark.pedantic(run_once, rounds=3, iterations=1, warmup_rounds=1)
    assert (
        summary.errors == [] and summary.computed == 4 * 3 * 2 * 4
    )  # items, levels, models, metrics
    seconds = benchmark.stats.stats.mean if benchmark.stats else summary.seconds
    benchmark.extra_info["items_per_second"] = summary.items / seconds


def _peak_bytes(registry, tmp_path, sample_manifest, copies: int) -> int:
    rows = [
        {"id": f"{item.id}-{k}", "gt": str(item.gt)}
        for k in range(copies)
        for item in load_manifest(sample_manifest)
    ]
    manifest = tmp_path / f"m{copies}.jsonl"
    write_manifest(manifest, f"m{copies}", rows)
    with ResultsStore(tmp_path / f"r{copies}.db") as store:
        tracemalloc.start()
        run_benchmark(
            RunConfig(
                models=["bicubic"],
                metrics=["psnr"],
                manifest=manifest,
                device="cpu",
                allow_outside_paths=True,
            ),
            registry,
            store,
        )
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_memory_is_flat_in_dataset_size(make_registry, tmp_path, sample_manifest):
    registry = make_registry()
    small = _peak_bytes(registry, tmp_path, sample_manifest, 1)
    large = _peak_bytes(registry, tmp_path, sample_manifest, 4)
    # Python-side peak memory for 4x the items stays within a small margin of 1x.
    assert large < 1.5 * small, (small, large)
