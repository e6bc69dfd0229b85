"""Ranked model leaderboards, as functions of the results DataFrame.

One table per (dataset, degradation, level, scale): models as rows, every metric's mean
with its 95% confidence interval and direction, models ranked by the chosen metric in its
own direction.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from semfid_bench.errors import SemfidError
from semfid_bench.escaping import markdown_table, md_code, md_text
from semfid_bench.specs import MetricSpec
from semfid_bench.stats import mean_ci

GROUP = ["dataset", "degradation", "level", "scale"]


@dataclass(frozen=True)
class LeaderboardTable:
    """One ranked table: which slice it is, and its rows (rank, model, n, metric stats)."""

    dataset: str
    degradation: str
    level: float
    scale: int
    rank_by: str
    frame: pd.DataFrame

    @property
    def title(self) -> str:
        return f"{self.dataset} · {self.degradation} @ {self.level:g} · x{self.scale}"


def model_label(model: str, options: str) -> str:
    """A model's name, with its options when they are not the defaults."""
    parsed = json.loads(options) if options else {}
    if not parsed:
        return model
    return f"{model}[{', '.join(f'{k}={v}' for k, v in sorted(parsed.items()))}]"


def default_rank_metric(metrics: list[str]) -> str:
    for preferred in ("psnr", "ssim"):
        if preferred in metrics:
            return preferred
    return sorted(metrics)[0]


def model_leaderboards(
    results: pd.DataFrame, specs: dict[str, MetricSpec], rank_by: str | None = None
) -> list[LeaderboardTable]:
    """Rank models per slice. ``results`` is :meth:`ResultsStore.results`' frame."""
    if results.empty:
        raise SemfidError("No results to rank.", hint="Run `semfid-bench run` first.")
    metrics = sorted(results["metric"].unique())
    rank_by = rank_by or default_rank_metric(metrics)
    if rank_by not in metrics:
        raise SemfidError(
            f"Cannot rank by {rank_by!r}: no results for it. Metrics present: {metrics}."
        )
    unknown = [m for m in metrics if m not in specs]
    if unknown:
        raise SemfidError(f"No spec (direction) recorded for metric(s) {unknown}.")
    pairs = zip(results["model"], results["model_options"], strict=True)
    data = results.assign(label=[model_label(m, o) for m, o in pairs])
    tables = []
    for key, group in data.groupby(GROUP, sort=True):
        tables.append(_rank(group, key, metrics, specs, rank_by))
    return tables


def _rank(group, key, metrics, specs, rank_by) -> LeaderboardTable:
    rows = []
    for label, model_rows in group.groupby("label", sort=True):
        row: dict[str, object] = {"model": label, "n": model_rows["item_id"].nunique()}
        for metric in metrics:
            values = model_rows.loc[model_rows["metric"] == metric, "value"]
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = mean_ci(values.tolist())
            row[f"{metric}_n"] = len(values)
        rows.append(row)
    frame = pd.DataFrame(rows)
    ascending = not specs[rank_by].higher_is_better
    frame = frame.sort_values(rank_by, ascending=ascending, na_position="last", kind="stable")
    frame.insert(0, "rank", frame[rank_by].rank(method="min", ascending=ascending))
    dataset, degradation, level, scale = key
    return LeaderboardTable(
        dataset, degradation, float(level), int(scale), rank_by, frame.reset_index(drop=True)
    )


def mean_ci_cell(mean: float, low: float, high: float) -> str:
    """A mean with its CI half-width for a table; "–" where it is missing."""
    if math.isnan(mean):
        return "–"
    if math.isnan(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {(high - low) / 2:.2g}"


def to_markdown(tables: list[LeaderboardTable], specs: dict[str, MetricSpec]) -> str:
    """Leaderboards as markdown: one section and table per slice."""
    lines = ["# semfid-bench leaderboard", ""]
    lines.append(
        "Mean ± half-width of the 95% confidence interval (Student's t) over items; "
        "↑ higher is better, ↓ lower is better. Ranked by the metric marked ★."
    )
    for table in tables:
        metrics = [c for c in table.frame.columns if f"{c}_low" in table.frame.columns]
        header = ["rank", "model", "n"] + [
            f"{md_text(m)} {specs[m].arrow}{' ★' if m == table.rank_by else ''}" for m in metrics
        ]
        align = ["---:", "---", "---:"] + ["---:"] * len(metrics)
        rows = []
        for row in table.frame.to_dict("records"):
            rank = "–" if math.isnan(row["rank"]) else str(int(row["rank"]))
            cells = [rank, md_code(row["model"]), str(row["n"])]
            cells += [mean_ci_cell(row[m], row[f"{m}_low"], row[f"{m}_high"]) for m in metrics]
            rows.append(cells)
        lines += ["", f"## {md_text(table.title)}", "", *markdown_table(header, rows, align)]
    conventions = [
        f"- {md_code(m)} {s.arrow}: {md_text(s.convention)}"
        for m, s in sorted(specs.items())
        if s.convention
    ]
    if conventions:
        lines += ["", "Conventions:", "", *conventions]
    return "\n".join(lines) + "\n"
