"""The planner: the cells a database lacks, claimed; a cell stored once, never twice."""

from __future__ import annotations

import pytest

from semfid_bench.execution.planner import Planner, Selection
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import PluginKey, ResultRow
from semfid_bench.plugin_api.plugin_manager import build_registry


def _selection(models=("bicubic", "nearest")) -> Selection:
    keys = {("sr_model", m): PluginKey(m) for m in models}
    keys |= {
        ("metric", "psnr"): PluginKey("psnr"),
        ("degradation", "bicubic"): PluginKey("bicubic"),
    }
    return Selection("crops", [("bicubic", 1.0)], list(models), ["psnr"], keys, 4, 0)


def _planner(store, crops_manifest, owner="run-a") -> Planner:
    from semfid_bench.datasets.manifest import load_manifest

    return Planner(store, load_manifest(crops_manifest), _selection(), owner, 60.0)


def test_every_missing_cell_is_handed_out_once_claimed_and_its_bytes_travel(store, crops_manifest):
    planner = _planner(store, crops_manifest)
    tasks = list(planner.tasks())
    assert [t.item.id for t in tasks] == ["chelsea", "coffee"]
    assert all(t.inputs["gt"] == t.item.gt.read_bytes() for t in tasks)
    cells = [c for t in tasks for c in t.cells]
    assert [(c.key.item_id, c.model) for c in cells] == [
        ("chelsea", "bicubic"), ("chelsea", "nearest"), ("coffee", "bicubic"),
        ("coffee", "nearest"),
    ]  # fmt: skip
    other = _planner(store, crops_manifest, owner="run-b")
    assert list(other.tasks()) == []  # all claimed by run-a: deferred
    first = cells[0]
    store.add([ResultRow(first.key, PluginKey("psnr"), 30.0)], "run-a")
    planner.done(first)
    with pytest.raises(RuntimeError, match="not outstanding"):
        planner.done(first)  # a second write of the same cell is refused
    for cell in cells[1:]:
        planner.done(cell)  # released unstored: free for another run
    again = _planner(store, crops_manifest, owner="run-c")
    assert len([c for t in again.tasks() for c in t.cells]) == 3 and again.skipped == 1


def test_a_resumed_run_plans_only_what_is_missing(store, crops_manifest):
    config = RunConfig(
        models=["bicubic"], metrics=["psnr"], degradations=["bicubic"], manifest=crops_manifest
    )
    first = run_benchmark(config, build_registry(), store)
    assert (first.computed, first.skipped) == (2, 0)
    store._db.execute("DELETE FROM results WHERE item_id = 'coffee'")
    store._db.commit()
    again = run_benchmark(config, build_registry(), store)
    assert (again.computed, again.skipped) == (1, 1)
