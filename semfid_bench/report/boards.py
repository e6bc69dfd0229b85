"""Ranked model boards, as functions of the results DataFrame.

One board per (dataset, degradation variant, level, scale, seed): model variants as rows,
every metric variant's mean with its 95% confidence interval and direction as columns,
models ranked by the chosen metric in its own direction. Variants are never pooled
(:mod:`semfid_bench.report.labels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.specs import MAX_DECIMALS, MetricSpec
from semfid_bench.report.labels import with_variant_labels
from semfid_bench.report.stats import mean_ci

GROUP = ["dataset", "degradation", "level", "scale", "seed"]
SLICE = ["dataset", "degradation", "level", "scale", "seed", "rank_by"]
FALLBACK_DECIMALS = 3


@dataclass(frozen=True)
class MetricColumn:
    """One metric variant's column: its label, spec and the decimals every report shows."""

    label: str
    spec: MetricSpec
    decimals: int

    @property
    def header(self) -> str:
        return f"{self.label} {self.spec.arrow}"


@dataclass(frozen=True)
class ModelBoard:
    """One ranked board: which slice it is, its metric columns, and its rows in ``frame``
    (rank, model, n, and per metric label its mean, ``_low``/``_high`` CI and ``_n``)."""

    dataset: str
    degradation: str
    level: float
    scale: int
    seed: int
    rank_by: str
    columns: tuple[MetricColumn, ...]
    frame: pd.DataFrame

    @property
    def title(self) -> str:
        title = f"{self.dataset} · {self.degradation} @ {self.level:g} · x{self.scale}"
        return title + (f" · seed {self.seed}" if self.seed else "")

    @property
    def metrics(self) -> list[str]:
        """The metric labels, in column order."""
        return [column.label for column in self.columns]


def default_rank_metric(metrics: list[str]) -> str:
    for preferred in ("psnr", "ssim"):
        if preferred in metrics:
            return preferred
    return sorted(metrics)[0]


def metric_decimals(
    spec: MetricSpec, means: np.ndarray, lows: np.ndarray, highs: np.ndarray
) -> int:
    """Decimals for a metric's means and CIs in every board of a report.

    The spec's ``decimals`` where declared. Otherwise enough to show the narrowest CI
    half-width of the metric to two significant digits (±3.8 → 1, ±0.12 → 2, ±0.051 → 3):
    more digits would be noise, fewer would hide a difference the CI resolves. Without any
    CI (one item per model, or constant scores), four significant digits of the largest
    |mean|. Always between 0 and ``MAX_DECIMALS``.
    """
    if spec.decimals is not None:
        return spec.decimals
    half = (np.asarray(highs, dtype=float) - np.asarray(lows, dtype=float)) / 2
    half = half[np.isfinite(half) & (half > 0)]
    magnitude = np.abs(np.asarray(means, dtype=float))
    magnitude = magnitude[np.isfinite(magnitude) & (magnitude > 0)]
    if half.size:
        digits = 1 - math.floor(math.log10(float(half.min())))
    elif magnitude.size:
        digits = 3 - math.floor(math.log10(float(magnitude.max())))
    else:
        digits = FALLBACK_DECIMALS
    return min(MAX_DECIMALS, max(0, digits))


def model_boards(
    results: pd.DataFrame, specs: dict[str, MetricSpec], rank_by: str | None = None
) -> list[ModelBoard]:
    """Rank model variants per slice. ``results`` is :meth:`ResultsStore.results`' frame
    (error rows, if included, are left out). ``rank_by`` is a metric variant label, or a
    metric name that has one variant."""
    data = with_variant_labels(results)
    if "error" in data:
        data = data[data["error"].isna()]
    if "value" in data:
        data = data[data["value"].notna()]
    if data.empty:
        raise SemfidError("No results to rank.", hint="Run `semfid-bench run` first.")
    if "seed" not in data:
        data = data.assign(seed=0)
    names = data.get("metric_name", data["metric"])
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise SemfidError(f"No spec (direction) recorded for metric(s) {unknown}.")
    label_specs = {label: specs[name] for label, name in zip(data["metric"], names, strict=True)}
    metrics = sorted(label_specs)
    rank_by = _rank_column(rank_by, metrics, names, data["metric"])
    ascending = not label_specs[rank_by].higher_is_better
    frames = {
        key: _rank(group, metrics, rank_by, ascending)
        for key, group in data.groupby(GROUP, sort=True)
    }
    everything = pd.concat(frames.values(), ignore_index=True)
    columns = tuple(
        MetricColumn(
            label,
            label_specs[label],
            metric_decimals(
                label_specs[label],
                everything[label].to_numpy(),
                everything[f"{label}_low"].to_numpy(),
                everything[f"{label}_high"].to_numpy(),
            ),
        )
        for label in metrics
    )
    return [
        ModelBoard(dataset, degradation, float(level), int(scale), int(seed), rank_by, columns, f)
        for (dataset, degradation, level, scale, seed), f in frames.items()
    ]


def _rank_column(rank_by: str | None, metrics: list[str], names, labels) -> str:
    if rank_by is None:
        return default_rank_metric(metrics)
    if rank_by in metrics:
        return rank_by
    variants = sorted(set(labels[names == rank_by]))
    if len(variants) == 1:
        return variants[0]
    raise SemfidError(
        f"Cannot rank by {rank_by!r}: "
        + (f"it has several variants {variants}." if variants else "no results for it.")
        + f" Metrics present: {metrics}."
    )


def _rank(group: pd.DataFrame, metrics: list[str], rank_by: str, ascending: bool) -> pd.DataFrame:
    """Rows per model with each metric's mean and CI, sorted; ties share the lower rank and
    a model without the ranking metric comes last, unranked."""
    rows = []
    for label, model_rows in group.groupby("model", sort=True):
        row: dict[str, object] = {"model": label, "n": model_rows["item_id"].nunique()}
        for metric in metrics:
            values = model_rows.loc[model_rows["metric"] == metric, "value"]
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = mean_ci(values.tolist())
            row[f"{metric}_n"] = len(values)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame = frame.sort_values(rank_by, ascending=ascending, na_position="last", kind="stable")
    frame.insert(0, "rank", frame[rank_by].rank(method="min", ascending=ascending))
    return frame.reset_index(drop=True)


def boards_frame(boards: list[ModelBoard]) -> pd.DataFrame:
    """All model boards as one long frame (CSV, JSON), with the slice each row belongs to."""
    frames = [
        board.frame.assign(
            dataset=board.dataset,
            degradation=board.degradation,
            level=board.level,
            scale=board.scale,
            seed=board.seed,
            rank_by=board.rank_by,
        )
        for board in boards
    ]
    frame = pd.concat(frames, ignore_index=True)
    return frame[SLICE + [c for c in frame.columns if c not in SLICE]]
