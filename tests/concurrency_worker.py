"""A benchmark run in its own process, for tests/test_concurrency.py.

    python tests/concurrency_worker.py DB MANIFEST LOG [--delay S] [--kill-at K]
                                       [--ready FILE --go FILE]

Runs the ``slow`` SR model (bicubic, ``--delay`` seconds per cell, each computed cell logged
to LOG with this process id) on MANIFEST into DB. ``--kill-at K`` kills the process with
SIGKILL in the middle of storing the K-th cell: its rows are inserted, not yet committed.
``--ready``/``--go`` let several workers start computing at the same moment.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

import semfid_bench.execution.store as store_module
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugin_api.specs import SRModelSpec


class SlowModel:
    def __init__(self, delay: float, log: Path) -> None:
        self.delay, self.log = delay, log

    @hookimpl
    def register_sr_models(self, register):
        from semfid_bench.sr_models.interpolation import InterpolationUpscaler

        delay, log = self.delay, self.log

        class Slow(InterpolationUpscaler):
            def upscale(self, lr, context):
                time.sleep(delay)
                with open(log, "a", encoding="utf-8") as handle:
                    handle.write(f"{context.items[0].id} {context.level:g} {os.getpid()}\n")
                return super().upscale(lr, context)

        register.add(SRModelSpec(name="slow"), Slow)


def kill_while_storing(cell_number: int) -> None:
    """SIGKILL this process when the ``cell_number``-th ``ResultsStore.add`` commits."""
    adds = {"count": 0}
    real_add, real_retry = ResultsStore.add, store_module._retry_locked

    def add(self, rows, run_id):
        adds["count"] += 1
        return real_add(self, rows, run_id)

    def retry(action):
        if adds["count"] == cell_number and getattr(action, "__name__", "") == "commit":
            os.kill(os.getpid(), signal.SIGKILL)
        return real_retry(action)

    ResultsStore.add = add
    store_module._retry_locked = retry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("log", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--kill-at", type=int, default=0)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args()
    loaded = make_plugin_manager(load_entry_points=False)
    loaded.pm.register(SlowModel(args.delay, args.log), name="slow-model")
    registry = build_registry(loaded)
    if args.kill_at:
        kill_while_storing(args.kill_at)
    config = RunConfig(
        models=["slow"],
        metrics=["psnr", "ssim"],
        degradations=["bicubic"],
        levels=[0.5, 1.0],
        manifest=args.manifest,
        device="cpu",
    )
    if args.ready:
        args.ready.touch()
        while not args.go.exists():
            time.sleep(0.05)
    with ResultsStore(args.db) as store:
        summary = run_benchmark(config, registry, store)
    assert not summary.errors, summary.errors


if __name__ == "__main__":
    main()
