"""dataset label: pair scores land in the right items' labels, cached and resumable."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.datasets.manifest import load_manifest, write_manifest
from semfid_bench.datasets.manifest_rows import item_row
from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.learned.pairs import load_pairs
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST, USER_STUDY_MANIFEST
from semfid_bench.study.labels import label_pairs

METRICS = ["psnr", "ssim"]


@pytest.fixture
def registry():
    return build_registry(make_plugin_manager(load_entry_points=False))


@pytest.fixture
def pairs(tmp_path):
    """Six pairs of the bundled user study, one with a label already, and a header record."""
    items = load_manifest(USER_STUDY_MANIFEST).items[::5][:6]
    rows = [item_row(item, tmp_path) for item in items]
    rows[0]["labels"] = {"fraction": 0.25}
    path = tmp_path / "pairs.jsonl"
    write_manifest(path, "six", rows, extra={"selection": {"seed": 7}})
    return path


def reference_values(manifest, registry, db):
    """The same pairs scored by a plain run into another database, by item id."""
    config = RunConfig(
        models=[],
        metrics=METRICS,
        dataset=None,
        manifest=manifest,
        device="cpu",
        allow_outside_paths=True,
    )
    with ResultsStore(db) as store:
        run_benchmark(config, registry, store)
        frame = store.results()
    return {(r.item_id, r.metric): r.value for r in frame.itertuples()}


def test_labels_hold_each_pairs_own_scores(pairs, registry, tmp_path):
    out = tmp_path / "out" / "labelled.jsonl"
    labelling = label_pairs(
        pairs, METRICS, registry, tmp_path / "l.db", out, device="cpu", allow_outside_paths=True
    )
    assert labelling.written == 12 and labelling.missing == {"psnr": 0, "ssim": 0}
    expected = reference_values(pairs, registry, tmp_path / "ref.db")
    labelled = load_manifest(out, allow_outside_paths=True)
    values = set()
    for item in labelled:
        for metric in METRICS:
            assert item.label(metric) == pytest.approx(expected[(item.id, metric)])
            values.add(item.label(metric))
    assert len(values) == 12  # distinct per pair: a mix-up of items would show
    assert labelled.items[0].label("fraction") == 0.25
    original = {i.id: i for i in load_manifest(pairs, allow_outside_paths=True)}
    assert all((i.gt, i.sr, i.mos, i.split) == (
        original[i.id].gt, original[i.id].sr, original[i.id].mos, original[i.id].split
    ) for i in labelled)  # fmt: skip
    header = json.loads(out.read_text().splitlines()[0])
    assert header["selection"] == {"seed": 7} and header["labelling"]["metrics"] == METRICS
    assert [p.target for p in load_pairs(out, target="ssim", allow_outside_paths=True)] == [
        item.label("ssim") for item in labelled
    ]


def test_labelling_again_reuses_the_database_and_replaces_in_place(pairs, registry, tmp_path):
    db, copy = tmp_path / "l.db", tmp_path / "copy.jsonl"
    first = label_pairs(pairs, ["psnr"], registry, db, copy, device="cpu", allow_outside_paths=True)
    assert first.summary.computed == 6
    again = label_pairs(
        pairs, ["psnr", "ssim"], registry, db, device="cpu", allow_outside_paths=True
    )
    assert (again.summary.computed, again.summary.skipped) == (6, 6)
    assert all(
        item.label("psnr") and item.label("ssim")
        for item in load_manifest(pairs, allow_outside_paths=True)
    )
    # labels are manifest inputs, part of every result's key: the relabelled file is new work
    third = label_pairs(pairs, ["psnr"], registry, db, device="cpu", allow_outside_paths=True)
    assert (third.summary.computed, third.summary.skipped) == (6, 0)


def test_unpaired_items_are_refused(registry, tmp_path):
    with pytest.raises(SemfidError, match="have no 'sr' image"):
        label_pairs(
            SAMPLE_MANIFEST,
            METRICS,
            registry,
            tmp_path / "l.db",
            device="cpu",
            allow_outside_paths=True,
        )


def test_cli(pairs, tmp_path):
    out = tmp_path / "l.jsonl"
    args = ["dataset", "label", str(pairs), "--metrics", "ssim", "--out", str(out)]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, [*args, "--db", str(tmp_path / "l.db"), "--device", "cpu", "--allow-outside-paths"]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 6 label(s)" in " ".join(result.output.split())
    assert all(
        item.label("ssim") is not None for item in load_manifest(out, allow_outside_paths=True)
    )
