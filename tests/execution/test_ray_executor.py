"""The Ray executor on a local cluster started here (``ray.init(num_cpus=2)``): its rows
equal the local executor's; a worker killed mid-run and a driver killed and run again
both end with every cell stored exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from semfid_bench.execution.executors import ray_executor  # noqa: E402
from semfid_bench.execution.runner import RunConfig, run_benchmark  # noqa: E402
from semfid_bench.execution.store import ResultsStore  # noqa: E402
from semfid_bench.plugin_api.plugin_manager import build_registry  # noqa: E402

from .ray_driver import slow_registry  # noqa: E402

ROOT = Path(__file__).parents[2]
KEY = ["dataset", "item_id", "gt_hash", "inputs_hash", "degradation", "degradation_options"]
KEY += ["degradation_execution", "level", "scale", "seed", "model", "model_options"]
KEY += ["model_execution", "metric", "metric_options", "metric_execution"]
DRIVER = Path(__file__).with_name("ray_driver.py")


@pytest.fixture(scope="module")
def cluster():
    """Two CPU slots; workers import this checkout (and this test package)."""
    path = f"{ROOT}{os.pathsep}{ROOT / 'tests'}"
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


def _rows(store: ResultsStore):
    return store.results(include_errors=True).sort_values(KEY).reset_index(drop=True)


@pytest.mark.slow
def test_ray_rows_equal_local_rows_on_the_sample(cluster, tmp_path):
    def run(executor: str):
        config = RunConfig(
            models=["bicubic", "nearest"],
            metrics=["psnr", "ssim"],
            degradations=["bicubic"],
            device="cpu",
            executor=executor,
            workers=2,
        )
        with ResultsStore(tmp_path / f"{executor}.db") as store:
            summary = run_benchmark(config, build_registry(), store)
            return summary, _rows(store)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as Ray's actors (OMP_NUM_THREADS=1): same summation order
    try:
        local, local_rows = run("local")
    finally:
        torch.set_num_threads(threads)
    remote, remote_rows = run("ray")
    assert remote.computed == local.computed == 4 * 2 * 2 and not remote.errors
    assert remote_rows[KEY].equals(local_rows[KEY])
    assert np.array_equal(remote_rows["value"].to_numpy(), local_rows["value"].to_numpy())


@pytest.mark.slow
def test_a_worker_killed_mid_run_has_its_chunks_requeued(cluster, tmp_path, monkeypatch):
    executors: list = []
    real_start = ray_executor.RayExecutor.start

    def start(self):
        executors.append(self)
        return real_start(self)

    real_add = ResultsStore.add

    def add(self, rows, run_id):
        if not executors[0].requeued and len(self.results()) == 0:
            ray.kill(executors[0]._actors[0], no_restart=True)  # it still has a chunk
        return real_add(self, rows, run_id)

    monkeypatch.setattr(ray_executor.RayExecutor, "start", start)
    monkeypatch.setattr(ResultsStore, "add", add)
    config = RunConfig(
        models=["slow"],
        metrics=["psnr"],
        degradations=["bicubic"],
        levels=[0.5, 1.0],
        device="cpu",
        executor="ray",
        workers=2,
    )
    with ResultsStore(tmp_path / "r.db") as store:
        summary = run_benchmark(config, slow_registry(str(tmp_path / "log"), 0.2), store)
        rows = _rows(store)
    assert executors[0].requeued >= 1
    assert summary.computed == 4 * 2 and not summary.errors
    assert len(rows) == 4 * 2 and not rows.duplicated(KEY).any()


@pytest.mark.slow
def test_a_killed_driver_rerun_computes_only_the_missing_cells(cluster, tmp_path):
    db, log = tmp_path / "r.db", tmp_path / "cells.log"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    command = [sys.executable, str(DRIVER), str(db), str(log), env["PYTHONPATH"]]
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    stored = 0
    while stored < 2 * 1 and time.monotonic() < deadline:  # two cells in: kill it
        assert first.poll() is None, first.communicate()
        time.sleep(0.2)
        if db.exists():
            with ResultsStore(db) as store:
                stored = len(store.results())
    first.send_signal(signal.SIGKILL)
    first.wait()
    with ResultsStore(db) as store:
        stored = len(store.results())
    assert 2 <= stored < 8
    log.write_text("")
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.split() == [str(8 - stored), str(stored)]
    assert len(log.read_text().splitlines()) == 8 - stored  # only the missing cells ran
    with ResultsStore(db) as store:
        rows = _rows(store)
    assert len(rows) == 8 and not rows.duplicated(KEY).any() and rows["error"].isna().all()
