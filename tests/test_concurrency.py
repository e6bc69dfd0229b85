"""Runs sharing one database: claimed cells are computed once, a run killed in the middle
of a write loses nothing once resumed, and a locked database is waited for."""

from __future__ import annotations

import collections
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from semfid_bench.datasets.manifest import write_manifest
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore, claim_owner
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.specs import SRModelSpec

WORKER = Path(__file__).with_name("concurrency_worker.py")
ITEMS = 6
CELLS = ITEMS * 2  # two levels, one model
KEY = ["dataset", "item_id", "gt_hash", "degradation", "level", "scale", "seed", "model"]
KEY += ["model_options", "metric", "metric_options"]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for n in range(ITEMS):
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"i{n}.png")
    path = tmp_path / "m.jsonl"
    write_manifest(path, "shared", [{"id": f"i{n}", "gt": f"i{n}.png"} for n in range(ITEMS)])
    return path


def _worker(db: Path, manifest: Path, log: Path, *extra: str) -> subprocess.Popen:
    env_path = str(Path(__file__).parents[1])
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(manifest), str(log), *extra],
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> int:
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (0, -9), stderr
    return proc.returncode


def _rows(db: Path):
    with ResultsStore(db) as store:
        frame = store.results(include_errors=True)
    return frame.sort_values(KEY).reset_index(drop=True)


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.mark.slow
def test_two_processes_on_one_database_compute_every_cell_once(tmp_path, manifest):
    db, log = tmp_path / "shared.db", tmp_path / "cells.log"
    go = tmp_path / "go"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    procs = [
        _worker(db, manifest, log, "--delay", "0.4", "--ready", str(r), "--go", str(go))
        for r in ready
    ]
    while not all(r.exists() for r in ready):
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    go.touch()
    assert [_finish(p) for p in procs] == [0, 0]
    computed = [tuple(line.split()) for line in log.read_text().splitlines()]
    cells = collections.Counter((item, level) for item, level, _ in computed)
    assert len(cells) == CELLS and set(cells.values()) == {1}  # every cell once
    by_process = collections.Counter(pid for _, _, pid in computed)
    assert len(by_process) == 2  # both did work: the second took other cells
    rows = _rows(db)
    assert len(rows) == CELLS * 2 and rows["error"].isna().all()
    assert not rows.duplicated(KEY).any()
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    assert _integrity(db) == "ok"


@pytest.mark.slow
def test_a_run_killed_mid_write_then_resumed_equals_a_clean_run(tmp_path, manifest):
    clean, killed = tmp_path / "clean.db", tmp_path / "killed.db"
    assert _finish(_worker(clean, manifest, tmp_path / "clean.log")) == 0
    assert _finish(_worker(killed, manifest, tmp_path / "k.log", "--kill-at", "4")) == -9
    partial = _rows(killed)
    assert len(partial) == 3 * 2  # the fourth cell's rows were never committed
    assert _integrity(killed) == "ok"
    with sqlite3.connect(killed) as connection:  # the dead run still holds its cells
        held = connection.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    assert held == 3  # the one being stored, and the next item's two (loaded ahead)
    assert _finish(_worker(killed, manifest, tmp_path / "resume.log")) == 0
    resumed_cells = len((tmp_path / "resume.log").read_text().splitlines())
    assert resumed_cells == CELLS - 3  # only what was missing, the dead claim taken over
    assert _integrity(killed) == "ok"
    a, b = _rows(clean), _rows(killed)
    assert a[KEY].equals(b[KEY])
    assert np.array_equal(a["value"].to_numpy(), b["value"].to_numpy())


def test_claims_exclude_live_owners_and_free_expired_or_dead_ones(tmp_path):
    with ResultsStore(tmp_path / "c.db") as store:
        me, other_host = claim_owner("run-a"), "elsewhere|1|run-b"
        assert store.claim("cell", other_host, lease_s=60)
        assert not store.claim("cell", me, lease_s=60)  # live (other host, not expired)
        store.release("cell", me)  # only the owner releases
        assert not store.claim("cell", me, lease_s=60)
        assert store.claim("old", other_host, lease_s=-1)  # already expired
        assert store.claim("old", me, lease_s=60)
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        host = me.split("|")[0]
        assert store.claim("orphan", f"{host}|{dead}|run-c", lease_s=60)
        assert store.claim("orphan", me, lease_s=60)  # its process is gone
        store.release("cell", other_host)
        assert store.claim("cell", me, lease_s=60)


def test_a_write_waits_for_another_connection_holding_the_lock(tmp_path, monkeypatch):
    """Held longer than the busy timeout: the retries with backoff still get through."""
    import semfid_bench.execution.store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    db = tmp_path / "locked.db"
    with ResultsStore(db) as store:
        blocker = sqlite3.connect(db, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, blocker.commit)
        release.start()
        started = time.perf_counter()
        store.start_run("r1", {"x": 1})
        waited = time.perf_counter() - started
        release.join()
        blocker.close()
        assert store.runs()["run_id"].tolist() == ["r1"] and waited >= 0.4
        monkeypatch.setattr(store_module, "LOCK_RETRIES", 0)
        blocker = sqlite3.connect(db)
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.start_run("r2", {})
        blocker.rollback()
        blocker.close()


class InterruptOnce:
    """Bicubic upscaling that raises KeyboardInterrupt on one item, once."""

    def __init__(self) -> None:
        self.armed = True

    @hookimpl
    def register_sr_models(self, register):
        from semfid_bench.sr_models.interpolation import InterpolationUpscaler

        plugin = self

        class Interrupting(InterpolationUpscaler):
            def upscale(self, lr, context):
                if plugin.armed and context.items[0].id == "i2":
                    plugin.armed = False
                    raise KeyboardInterrupt
                return super().upscale(lr, context)

        register.add(SRModelSpec(name="interrupting"), Interrupting)


def test_an_interrupted_run_frees_its_claims_and_the_same_process_resumes(
    make_registry, store, manifest
):
    registry = make_registry(InterruptOnce())
    config = RunConfig(
        models=["interrupting"], metrics=["psnr"], degradations=["bicubic"], manifest=manifest
    )
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(config, registry, store)
    assert store._db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    assert store.runs()["status"].tolist() == ["interrupted"]
    summary = run_benchmark(config, registry, store)  # no wait for a stale claim
    assert summary.skipped == 2 and summary.computed == ITEMS - 2
