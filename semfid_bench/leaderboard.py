"""Ranked model leaderboards, as functions of the results DataFrame.

One table per (dataset, degradation variant, level, scale, seed): model variants as rows,
every metric variant's mean with its 95% confidence interval and direction as columns,
models ranked by the chosen metric in its own direction. A variant is a plugin with
particular options (``psnr-y[crop_border=0]``): variants are never pooled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd

from semfid_bench.errors import SemfidError
from semfid_bench.escaping import markdown_table, md_code, md_text
from semfid_bench.specs import MetricSpec
from semfid_bench.stats import mean_ci

GROUP = ["dataset", "degradation", "level", "scale", "seed"]
LABELLED = ("degradation", "model", "metric")


@dataclass(frozen=True)
class LeaderboardTable:
    """One ranked table: which slice it is, and its rows (rank, model, n, metric stats)."""

    dataset: str
    degradation: str
    level: float
    scale: int
    rank_by: str
    frame: pd.DataFrame
    seed: int = 0
    specs: dict[str, MetricSpec] = field(default_factory=dict)
    """The spec of each metric column (columns are metric variant labels)."""

    @property
    def title(self) -> str:
        title = f"{self.dataset} · {self.degradation} @ {self.level:g} · x{self.scale}"
        return title + (f" · seed {self.seed}" if self.seed else "")

    @property
    def metrics(self) -> list[str]:
        """The metric columns, in order."""
        return [c for c in self.frame.columns if f"{c}_low" in self.frame.columns]


def model_label(model: str, options: str) -> str:
    """A plugin's name with all of ``options`` (for frames without stored labels)."""
    parsed = json.loads(options) if options else {}
    if not parsed:
        return model
    return f"{model}[{', '.join(f'{k}={v}' for k, v in sorted(parsed.items()))}]"


def with_variant_labels(results: pd.DataFrame) -> pd.DataFrame:
    """Results as reports read them: ``degradation``, ``model`` and ``metric`` hold each
    variant's readable label (the stored ``*_label``; the raw names move to ``*_name``),
    and rows of an item's superseded inputs (an edited GT or caption: another
    ``gt_hash``/``inputs_hash`` than the item's newest row) are left out.

    Two variants that would share a label (a default changed without a version bump, or
    rows computed on another device or in another precision) get their full options, and
    where it differs their execution, in it, so they are never pooled. Labelling twice
    changes nothing.
    """
    if results.empty or "metric_name" in results:
        return results
    data = _current_inputs(results)
    for column in LABELLED:
        if column not in data:
            continue
        names = data[column]
        if f"{column}_label" in data:
            labels = data[f"{column}_label"]
        elif f"{column}_options" in data:
            pairs = zip(names, data[f"{column}_options"], strict=True)
            labels = pd.Series([model_label(n, o) for n, o in pairs], index=data.index)
        else:
            labels = names
        data = data.assign(**{f"{column}_name": names, column: _distinct(data, column, labels)})
    return data


def _current_inputs(results: pd.DataFrame) -> pd.DataFrame:
    if "gt_hash" not in results or "inputs_hash" not in results:
        return results
    inputs = results["gt_hash"] + "/" + results["inputs_hash"]
    latest = inputs.groupby([results["dataset"], results["item_id"]]).transform("last")
    return results[inputs == latest]


def _distinct(data: pd.DataFrame, column: str, labels: pd.Series) -> pd.Series:
    key_columns = [c for c in (f"{column}_options", f"{column}_version") if c in data]
    if not key_columns:
        return labels
    keys = data[column].astype(str)
    for key_column in key_columns:
        keys = keys + "\x1f" + data[key_column].astype(str)
    execution = data.get(f"{column}_execution", pd.Series("{}", index=data.index))
    clashing = (keys + "\x1f" + execution.astype(str)).groupby(labels).transform("nunique") > 1
    executions_differ = execution.groupby(labels).transform("nunique") > 1
    full = [
        model_label(n, o)
        + (f"@v{v}" if len(key_columns) > 1 else "")
        + (f" ({_execution_text(e)})" if differ else "")
        for n, o, v, e, differ in zip(
            data[column],
            data[key_columns[0]],
            data[key_columns[-1]],
            execution,
            executions_differ,
            strict=True,
        )
    ]
    return labels.where(~clashing, pd.Series(full, index=data.index))


def _execution_text(execution: str) -> str:
    """``{"device":"cuda","dtype":"float16"}`` as ``cuda, dtype=float16``."""
    parsed = json.loads(execution) if execution else {}
    device = parsed.pop("device", None)
    parts = [str(device)] if device is not None else []
    return ", ".join(parts + [f"{k}={v}" for k, v in sorted(parsed.items())])


def default_rank_metric(metrics: list[str]) -> str:
    for preferred in ("psnr", "ssim"):
        if preferred in metrics:
            return preferred
    return sorted(metrics)[0]


def model_leaderboards(
    results: pd.DataFrame, specs: dict[str, MetricSpec], rank_by: str | None = None
) -> list[LeaderboardTable]:
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
    tables = []
    for key, group in data.groupby(GROUP, sort=True):
        tables.append(_rank(group, key, metrics, label_specs, rank_by))
    return tables


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


def _rank(group, key, metrics, specs, rank_by) -> LeaderboardTable:
    rows = []
    for label, model_rows in group.groupby("model", sort=True):
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
    dataset, degradation, level, scale, seed = key
    return LeaderboardTable(
        dataset,
        degradation,
        float(level),
        int(scale),
        rank_by,
        frame.reset_index(drop=True),
        seed=int(seed),
        specs={m: specs[m] for m in metrics},
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
        metrics = table.metrics
        header = ["rank", "model", "n"] + [
            f"{md_text(m)} {table.specs[m].arrow}{' ★' if m == table.rank_by else ''}"
            for m in metrics
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
