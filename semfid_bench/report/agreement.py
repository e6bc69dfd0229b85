"""Agreement of metrics with human judgement: one row per (dataset, split, metric).

MOS and split come from the manifest (stored in the ``items`` table at run time); scores
from the results. Only *paired* items (their SR image given in the manifest) are used: a
MOS rates one SR image, and an unpaired item has one SR image per model and level. Each
split is evaluated on its own and all items together as split ``all``. Metrics are ranked
by |SRCC| (signed values are reported: a distance anti-correlates with a similarity-like
MOS). Items without a MOS, without a score or with an infinite score (PSNR of identical
images) are left out and counted; anything that prevents a statistic is written into the
row's ``notes``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.seeding import derive_seed
from semfid_bench.plugin_api.specs import MetricSpec
from semfid_bench.report.labels import with_variant_labels
from semfid_bench.report.stats import (
    LOGISTICS,
    agreement,
    bootstrap_indices,
    check_pairs,
    compare_agreement,
)

ALL_SPLITS = "all"
STATISTICS = ("srcc", "krcc", "plcc", "plcc_fit", "rmse_fit", "mse")
INTERVALS = tuple(f"{name}_{end}" for name in ("srcc", "krcc", "plcc") for end in ("low", "high"))
"""Bootstrap CI bounds: present (None) even where no correlation could be computed."""


def scores_with_mos(results: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, item, metric) of paired items: its latest score, MOS and split.

    ``results`` may include error rows (value NaN); they stay, so that missing scores are
    reported rather than silently dropped."""
    if results.empty:
        raise SemfidError("No results to correlate.", hint="Run `semfid-bench run` first.")
    labelled = items[items["paired"]]
    if labelled.empty:
        raise SemfidError(
            "No paired items (with an 'sr' image) in the database: MOS agreement needs a "
            "manifest whose items give the SR image that was rated.",
            hint="Run `semfid-bench run --dataset user-study-sample` for an example.",
        )
    if labelled["mos"].isna().all():
        raise SemfidError(
            "No paired item has a MOS: agreement with human judgement needs the manifest's "
            "'mos' values.",
            hint="Add 'mos' to the items of the paired manifest and run it again.",
        )
    data = with_variant_labels(results).merge(labelled, on=["dataset", "item_id"], how="inner")
    data = data.sort_values("created_at", kind="stable")
    data = data.drop_duplicates(["dataset", "item_id", "metric"], keep="last")
    columns = ["dataset", "item_id", "model", "degradation", "level", "metric", "value"]
    return data[[*columns, "error", "mos", "split"]].reset_index(drop=True)


def _splits(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    named = [(str(s), g) for s, g in frame.groupby("split", sort=True)]
    return [(ALL_SPLITS, frame), *named]


def _usable(group: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Rows with a finite score and a MOS, and notes on those left out."""
    notes = []
    no_mos = group["mos"].isna()
    if no_mos.any():
        notes.append(f"{int(no_mos.sum())} item(s) without MOS left out")
    no_score = group["value"].isna() & ~no_mos
    if no_score.any():
        notes.append(f"{int(no_score.sum())} item(s) without a score (error or NaN) left out")
    infinite = np.isinf(group["value"].astype(float)) & ~no_mos
    if infinite.any():
        notes.append(f"{int(infinite.sum())} item(s) with an infinite score left out")
    return group[~no_mos & ~no_score & ~infinite], notes


def metric_agreement(
    results: pd.DataFrame,
    items: pd.DataFrame,
    specs: dict[str, MetricSpec],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    logistic: str = "4pl",
) -> pd.DataFrame:
    """The metric leaderboard: agreement statistics per dataset × split × metric, ranked by
    |SRCC| within each (dataset, split). Bootstrap resamples are seeded per (dataset, split)
    and index the items sorted by id, so every metric scored on the same items sees the same
    resampled items, whatever order its rows were stored in."""
    if logistic not in LOGISTICS:
        raise SemfidError(f"Unknown logistic {logistic!r}; choose {' or '.join(LOGISTICS)}.")
    if resamples < 1:
        raise SemfidError("At least one bootstrap resample is needed.")
    data = scores_with_mos(results, items)
    rows = []
    for dataset, by_dataset in data.groupby("dataset", sort=True):
        for split, by_split in _splits(by_dataset):
            for metric, group in by_split.groupby("metric", sort=True):
                rows.append(
                    _agreement_row(
                        dataset, split, metric, group, specs, resamples, seed, confidence, logistic
                    )
                )
    frame = pd.DataFrame(rows)
    magnitude = frame["srcc"].astype(float).abs()  # None (no usable pairs) → NaN
    frame["rank"] = magnitude.groupby([frame["dataset"], frame["split"]]).rank(
        method="min", ascending=False
    )
    frame = frame.assign(_magnitude=magnitude).sort_values(
        ["dataset", "split", "_magnitude"], ascending=[True, True, False], na_position="last"
    )
    return frame.drop(columns="_magnitude").reset_index(drop=True)


def _agreement_row(dataset, split, metric, group, specs, resamples, seed, confidence, logistic):
    base = metric.split("[", 1)[0]
    spec = specs.get(base)
    row: dict[str, object] = {
        "dataset": dataset,
        "split": split,
        "metric": metric,
        "direction": spec.arrow if spec else "?",
    }
    usable, notes = _usable(group)
    usable = usable.sort_values("item_id", kind="stable")  # resample index k = the same item
    row["n"] = len(usable)
    if spec is None:
        notes.append("no spec recorded for this metric: direction and range unknown")
    try:
        indices = bootstrap_indices(len(usable), resamples, derive_seed(seed, dataset, split))
        stats = agreement(
            usable["value"].to_numpy(),
            usable["mos"].to_numpy(),
            value_range=spec.value_range if spec else (float("-inf"), float("inf")),
            indices=indices,
            confidence=confidence,
            logistic=logistic,
        )
    except ValueError as exc:
        row.update(dict.fromkeys(STATISTICS + INTERVALS))
        notes.append(f"no correlation: {exc}")
    else:
        notes.append(str(stats.pop("notes")))
        row.update(stats)
    row["notes"] = "; ".join(n for n in notes if n)
    return row


def pairwise_comparisons(
    results: pd.DataFrame,
    items: pd.DataFrame,
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Does metric A agree with MOS better than metric B? For every pair of metrics in each
    (dataset, split): Δ|SRCC| on their common items with a paired bootstrap CI and p-value."""
    data = scores_with_mos(results, items)
    data = data[data["mos"].notna() & data["value"].notna()]
    rows = []
    for dataset, by_dataset in data.groupby("dataset", sort=True):
        for split, by_split in _splits(by_dataset):
            wide = by_split.pivot(index="item_id", columns="metric", values="value")
            mos = by_split.groupby("item_id")["mos"].first()
            metrics = list(wide.columns)
            for i, a in enumerate(metrics):
                for b in metrics[i + 1 :]:
                    both = wide[[a, b]].dropna()
                    y = mos.loc[both.index].to_numpy()
                    try:
                        check_pairs(both[a].to_numpy(), y)
                        check_pairs(both[b].to_numpy(), y)
                    except ValueError:
                        continue
                    indices = bootstrap_indices(
                        len(both), resamples, derive_seed(seed, dataset, split, "pairs")
                    )
                    test = compare_agreement(
                        both[a].to_numpy(), both[b].to_numpy(), y, indices, confidence
                    )
                    rows.append(
                        {"dataset": dataset, "split": split, "metric_a": a, "metric_b": b}
                        | {"n": len(both)}
                        | test
                    )
    return pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "split",
            "metric_a",
            "metric_b",
            "n",
            "delta",
            "delta_low",
            "delta_high",
            "p_value",
            "williams_t",
            "williams_p",
        ],
    )
