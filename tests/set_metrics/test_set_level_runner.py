"""Set-level metrics through the runner and the store: statistics stored under the cell's
complete key, resumed without recomputation, reduced per slice with a bootstrap CI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import SetMetric
from semfid_bench.plugin_api.specs import MetricSpec, SpecError
from semfid_bench.report.set_level import set_level_boards


def mean_gap(stats, item_ids, options):
    """Pooled mean absolute SR-GT gap: sum of gaps over sum of pixel counts."""
    assert len(stats) == len(item_ids)
    return float(sum(s["gap_sum"] for s in stats) / sum(s["pixels"] for s in stats))


class GapMetric(SetMetric):
    """Per-item stats: the sum of |SR - GT| and the pixel count, plus an array."""

    calls = 0

    def __init__(self, device=None, factor: float = 1.0) -> None:
        self.factor = factor

    def item_stats(self, sr, reference):
        GapMetric.calls += 1
        gap = (sr - reference).abs() * self.factor
        return [
            {
                "gap_sum": float(gap.sum()),
                "pixels": int(gap[0].numel()),
                "hist": np.histogram(gap.numpy(), bins=4, range=(0, 1))[0],
            }
        ]


class SetPlugin:
    @hookimpl
    def register_metrics(self, register):
        register.add(
            MetricSpec(
                name="test-gap",
                higher_is_better=False,
                reduce=f"{__name__}:mean_gap",
                reduce_ci=True,
            ),
            GapMetric,
        )


@pytest.fixture
def registry(make_registry):
    return make_registry(SetPlugin())


def _config(manifest, **kwargs):
    return RunConfig(
        models=["bicubic", "nearest"],
        metrics=["psnr", "test-gap"],
        degradations=["bicubic"],
        manifest=manifest,
        device="cpu",
        **kwargs,
    )


def test_stats_are_stored_resumed_and_reduced(crops_manifest, registry, store):
    GapMetric.calls = 0
    first = run_benchmark(_config(crops_manifest), registry, store)
    assert not first.errors
    assert GapMetric.calls == 4  # 2 items x 2 models
    stats = store.item_stats()
    assert len(stats) == 4 and set(stats["metric"]) == {"test-gap"}
    assert stats["stats"][0]["hist"].dtype == np.int64
    assert set(store.results()["metric"]) == {"psnr"}  # no per-item value for set metrics

    second = run_benchmark(_config(crops_manifest), registry, store)
    assert GapMetric.calls == 4 and second.computed == 0 and second.skipped == 8

    boards = set_level_boards(store, registry, resamples=200)
    assert list(boards["model"]) == ["bicubic", "nearest"]
    assert set(boards["n_items"]) == {2}
    for row in boards.to_dict("records"):
        mine = stats[stats["model"] == row["model"]]["stats"].tolist()
        expected = sum(s["gap_sum"] for s in mine) / sum(s["pixels"] for s in mine)
        assert row["value"] == pytest.approx(expected)
        assert row["low"] <= row["value"] <= row["high"]
        assert row["error"] is None and row["higher_is_better"] is False
    assert boards["key"].nunique() == 2


def test_option_variants_are_separate_slices(crops_manifest, registry, store):
    run_benchmark(_config(crops_manifest), registry, store)
    run_benchmark(_config(crops_manifest, options={"test-gap": {"factor": 2.0}}), registry, store)
    boards = set_level_boards(store, registry, resamples=10)
    assert len(boards) == 4
    by_metric = boards.groupby("metric")["value"].sum()
    assert by_metric["test-gap[factor=2.0]"] == pytest.approx(2 * by_metric["test-gap"])


def test_a_failing_item_is_an_error_row_then_replaced(crops_manifest, registry, store):
    original = GapMetric.item_stats
    GapMetric.item_stats = lambda self, sr, reference: [{"bad": math.nan}]
    try:
        summary = run_benchmark(_config(crops_manifest), registry, store)
    finally:
        GapMetric.item_stats = original
    assert len(summary.errors) == 4 and store.item_stats().empty
    errors = store.results(include_errors=True)
    assert errors["error"].notna().sum() == 4
    run_benchmark(_config(crops_manifest), registry, store)
    assert len(store.item_stats()) == 4
    assert store.results(include_errors=True)["error"].isna().all()


def test_reducer_path_is_checked():
    with pytest.raises(SpecError, match="reduce"):
        MetricSpec(name="x", higher_is_better=True, reduce="not a path")
    assert not MetricSpec(name="x", higher_is_better=True).set_level


def test_score_refuses_on_a_set_metric():
    with pytest.raises(TypeError, match="set-level"):
        GapMetric().score(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))


def test_an_edited_gt_supersedes_its_old_statistics(crops_manifest, registry, store):
    from PIL import Image

    run_benchmark(_config(crops_manifest), registry, store)
    path = crops_manifest.parent / "coffee.png"
    with Image.open(path) as image:
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path)
    run_benchmark(_config(crops_manifest), registry, store)
    stats = store.item_stats()
    assert len(stats) == 6  # the old coffee rows stay stored, under their old GT hash
    current = stats.drop_duplicates(["item_id", "model"], keep="last")
    boards = set_level_boards(store, registry, resamples=10)
    assert set(boards["n_items"]) == {2}
    for row in boards.to_dict("records"):
        mine = current[current["model"] == row["model"]]["stats"].tolist()
        assert row["value"] == pytest.approx(mean_gap(mine, ["chelsea", "coffee"], {}))
