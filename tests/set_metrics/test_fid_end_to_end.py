"""`semfid-bench run --metrics psnr,fid` on the sample, resumed, then `leaderboard` and
`publish` showing one FID per (degradation, level, model), marked set-level; KID through
the runner on two crops."""

from __future__ import annotations

import re
import shutil
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.metrics.fid_formulas import frechet_distance, kernel_distance
from semfid_bench.report.set_level import set_level_boards

runner = CliRunner(env={"COLUMNS": "250"})


def test_run_resume_leaderboard_publish(tmp_path, inception_weights):
    db = tmp_path / "r.db"
    command = ["run", "--models", "bicubic,nearest", "--degradations", "bicubic"]
    command += ["--metrics", "psnr,fid", "--set", f"fid.weights={inception_weights}"]
    command += ["--device", "cpu", "--db", str(db)]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    assert "16 results computed, 0 already done and skipped, 0 errors" in first.output
    assert "Set-level metrics (fid[weights=" in first.output
    again = runner.invoke(app, command)
    assert "0 results computed, 16 already done and skipped" in again.output

    with ResultsStore(db) as store:
        stats = store.item_stats()
    assert len(stats) == 8 and set(stats["item_id"]) == {"astronaut", "chelsea", "coffee", "rocket"}
    by_model = {model: rows for model, rows in stats.groupby("model")}
    for model, rows in by_model.items():  # GT features: computed once, shared by both models
        other = by_model["nearest" if model == "bicubic" else "bicubic"]
        np.testing.assert_array_equal(np.stack(rows["stats"].map(lambda s: s["gt"])),
                                      np.stack(other["stats"].map(lambda s: s["gt"])))  # fmt: skip

    board = runner.invoke(app, ["leaderboard", "--db", str(db)])
    assert board.exit_code == 0, board.output
    section = board.output.split("## Set-level metrics", 1)[1]
    for model, rows in by_model.items():
        sr = np.stack(rows["stats"].map(lambda s: s["sr"]))
        gt = np.stack(rows["stats"].map(lambda s: s["gt"]))
        expected = f"{frechet_distance(sr, gt):.4g}"
        line = next(li for li in section.splitlines() if f"| {model} |" in li)
        assert "sample · bicubic @ 1 · x4" in line and f"| {expected} | 4 |" in line
    assert "| psnr" not in section and "psnr ↑ ★" in board.output.split("## Set-level")[0]

    only_set_level = tmp_path / "only.db"
    shutil.copyfile(db, only_set_level)
    with sqlite3.connect(only_set_level) as connection:
        connection.execute("DELETE FROM results")
    board = runner.invoke(app, ["leaderboard", "--db", str(only_set_level)])
    assert board.exit_code == 0, board.output
    assert "## Set-level metrics" in board.output and "psnr ↑" not in board.output

    published = runner.invoke(app, ["publish", "--db", str(db), "--out", str(tmp_path / "p")])
    assert published.exit_code == 0, published.output
    assert "## Set-level metrics" in (tmp_path / "p" / "index.md").read_text()
    page = (tmp_path / "p" / "index.html").read_text()
    assert re.search(r"<h[23]>Set-level metrics</h[23]>", page)
    assert (tmp_path / "p" / "data" / "set_level.csv").is_file()


def test_kid_through_the_runner(crops_manifest, inception_weights, store):
    from semfid_bench.plugin_api.plugin_manager import build_registry

    registry = build_registry()
    config = RunConfig(
        models=["bicubic"],
        metrics=["kid"],
        degradations=["bicubic"],
        manifest=crops_manifest,
        device="cpu",
        options={"kid": {"weights": str(inception_weights), "num_subsets": 5}},
    )
    summary = run_benchmark(config, registry, store)
    assert not summary.errors and summary.computed == 2
    stats = store.item_stats()["stats"].tolist()
    sr, gt = np.stack([s["sr"] for s in stats]), np.stack([s["gt"] for s in stats])
    (row,) = set_level_boards(store, registry).to_dict("records")
    assert row["value"] == pytest.approx(kernel_distance(sr, gt, 5, 1000, 0))
    assert row["metric"] == f"kid[num_subsets=5, weights={inception_weights}]"
    assert row["n_items"] == 2 and np.isnan(row["low"])  # no bootstrap CI for KID
