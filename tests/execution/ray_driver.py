"""A driver process for the Ray tests: joins the running local cluster, runs a slow model
on the sample data into a database, logging every upscaled cell (to be SIGKILLed)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import ray

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugin_api.specs import SRModelSpec


class SlowPlugin:
    """``slow``: bicubic upscaling that sleeps and logs ``item level`` per image."""

    def __init__(self, log: str, delay: float) -> None:
        self.log, self.delay = log, delay

    @hookimpl
    def register_sr_models(self, register):
        from semfid_bench.sr_models.interpolation import InterpolationUpscaler

        log, delay = self.log, self.delay

        class Slow(InterpolationUpscaler):
            def upscale(self, lr, context):
                time.sleep(delay)
                with open(log, "a", encoding="utf-8") as handle:
                    for item in context.items:
                        handle.write(f"{item.id} {context.level:g}\n")
                return super().upscale(lr, context)

        register.add(SRModelSpec(name="slow"), Slow)


def slow_registry(log: str, delay: float):
    loaded = make_plugin_manager(load_entry_points=False)
    loaded.pm.register(SlowPlugin(log, delay), name="slow")
    return build_registry(loaded)


def main() -> None:
    db, log, root = sys.argv[1], sys.argv[2], sys.argv[3]
    ray.init(address="auto", runtime_env={"env_vars": {"PYTHONPATH": root}})
    config = RunConfig(
        models=["slow"],
        metrics=["psnr"],
        degradations=["bicubic"],
        levels=[0.5, 1.0],
        device="cpu",
        executor="ray",
        workers=2,
    )
    with ResultsStore(Path(db)) as store:
        summary = run_benchmark(config, slow_registry(log, 0.5), store)
    print(summary.computed, summary.skipped)


if __name__ == "__main__":
    main()
