"""The runner scores paired items' SR images directly, keyed by their labels."""

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from semfid_bench.execution.runner import GIVEN_SR, RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.plugin_manager import build_registry

SAMPLE = Path(__file__).resolve().parent.parent / "semfid_bench" / "data" / "sample"


def make_study(tmp_path: Path, unpaired: bool = False) -> Path:
    gt = np.array(Image.open(SAMPLE / "coffee.png").convert("RGB"))[:64, :64]
    Image.fromarray(gt).save(tmp_path / "gt.png")
    rng = np.random.default_rng(0)
    rows = []
    for k, sigma in enumerate([0, 5, 20]):
        noisy = np.clip(gt + rng.normal(0, sigma, gt.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(tmp_path / f"sr{k}.png")
        rows.append(
            {"id": f"p{k}", "gt": "gt.png", "sr": f"sr{k}.png", "mos": k / 2}
            | ({"model": "noisy", "degradation": "noise", "level": k / 2} if k else {})
        )
    if unpaired:
        rows.append({"id": "u", "gt": "gt.png"})
    header = {"format": "semfid-bench-manifest", "version": 1, "name": "study"}
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


def run(manifest: Path, db: Path, models=("bicubic",)):
    config = RunConfig(
        models=list(models),
        metrics=["psnr"],
        manifest=manifest,
        device="cpu",
        degradations=["bicubic"],
    )
    with ResultsStore(db) as store:
        return run_benchmark(config, build_registry(), store)


def test_paired_items_are_scored_with_their_labels(tmp_path):
    manifest = make_study(tmp_path)
    summary = run(manifest, tmp_path / "r.db")
    assert summary.computed == 3 and not summary.errors
    with ResultsStore(tmp_path / "r.db") as store:
        results = store.results().set_index("item_id")
        items = store.items().set_index("item_id")
        config = json.loads(store.runs()["config"].iloc[0])
    assert results.loc["p0", "model"] == GIVEN_SR and results.loc["p0", "degradation"] == GIVEN_SR
    assert tuple(results.loc["p2", ["model", "degradation", "level"]]) == ("noisy", "noise", 1.0)
    assert results.loc["p0", "value"] > 60  # the SR image is the GT
    assert results.loc["p1", "value"] > results.loc["p2", "value"]
    assert items.loc["p2", "mos"] == 1.0 and items["paired"].all()
    assert config["models"] == [GIVEN_SR, "noisy"]  # --models is ignored when all are paired
    assert config["degradations"] == {GIVEN_SR: [1.0], "noise": [0.5, 1.0]}


def test_rerun_skips_and_a_replaced_sr_image_is_scored_again(tmp_path):
    manifest = make_study(tmp_path)
    run(manifest, tmp_path / "r.db")
    assert run(manifest, tmp_path / "r.db").skipped == 3
    shutil.copy(tmp_path / "sr2.png", tmp_path / "sr1.png")
    again = run(manifest, tmp_path / "r.db")
    assert (again.computed, again.skipped) == (1, 2)


def test_mixed_manifest_runs_models_on_unpaired_items(tmp_path):
    manifest = make_study(tmp_path, unpaired=True)
    summary = run(manifest, tmp_path / "r.db", models=("bicubic", "nearest"))
    assert summary.computed == 3 + 2 and not summary.errors
    with ResultsStore(tmp_path / "r.db") as store:
        unpaired = store.results().query("item_id == 'u'")
    assert sorted(unpaired["model"]) == ["bicubic", "nearest"]


def test_api_returns_dataframes_joined_with_mos(tmp_path):
    from semfid_bench import api

    run(make_study(tmp_path), tmp_path / "r.db")
    results = api.results(tmp_path / "r.db")
    assert set(results["mos"]) == {0.0, 0.5, 1.0} and results["paired"].all()
    board = api.correlations(tmp_path / "r.db", resamples=20)
    row = board[board["split"] == "all"].iloc[0]
    assert row["metric"] == "psnr" and row["n"] == 3 and row["srcc"] == -1.0
    assert api.runs(tmp_path / "r.db")["dataset"].tolist() == ["study"]
