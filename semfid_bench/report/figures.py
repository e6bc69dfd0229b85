"""Figures for published reports: PNG plots (matplotlib, Agg backend: no display needed)
and the map artefacts metrics stored with their scores.

Each plot function writes one figure per dataset (and metric, for scatter and level plots)
and returns them as :class:`Figure` objects, so a report can show them in its sections.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from semfid_bench.plugin_api.specs import MetricSpec
from semfid_bench.report.agreement import ALL_SPLITS
from semfid_bench.report.boards import MetricColumn
from semfid_bench.report.labels import with_variant_labels
from semfid_bench.report.stats import LOGISTICS, mean_ci
from semfid_bench.safe_paths import path_inside

MAP_SUFFIX = ".png"


@dataclass(frozen=True)
class Figure:
    """An image file of the report, the section it belongs to (``metrics``, ``models`` or
    ``maps``) and its caption (empty for plots, whose title says what they show)."""

    path: Path
    section: str
    caption: str = ""

    @property
    def alt(self) -> str:
        return self.caption or self.path.stem


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, name: str) -> Path:
    """Save a figure as ``out/<name>.png``, the name encoded (it holds dataset and metric
    names) by :func:`~semfid_bench.safe_paths.path_inside`."""
    path = path_inside(out, name, suffix=".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def scatter_plots(scores: pd.DataFrame, agreement: pd.DataFrame, out: Path) -> list[Figure]:
    """Metric score (x) against MOS (y) per dataset and metric, coloured by split, with the
    logistic mapping fitted on all items and the all-items SRCC in the title."""
    plt = _pyplot()
    figures = []
    fits = agreement[agreement["split"] == ALL_SPLITS].set_index(["dataset", "metric"])
    data = scores[scores["mos"].notna() & np.isfinite(scores["value"].astype(float))]
    for (dataset, metric), group in data.groupby(["dataset", "metric"], sort=True):
        fig, ax = plt.subplots(figsize=(4.6, 3.6))
        for split, part in group.groupby(group["split"].fillna("(none)"), sort=True):
            ax.scatter(part["value"], part["mos"], s=22, alpha=0.8, label=str(split))
        row = fits.loc[(dataset, metric)] if (dataset, metric) in fits.index else None
        title = f"{metric} vs MOS"
        if row is not None and row["srcc"] is not None and not pd.isna(row["srcc"]):
            title += f"  (SRCC {row['srcc']:.3f}, n={row['n']})"
        if row is not None and isinstance(row["fit_params"], list) and row["fit_params"]:
            xs = np.linspace(group["value"].min(), group["value"].max(), 200)
            ys = LOGISTICS[row["fit"]](xs, *row["fit_params"])
            ax.plot(xs, ys, color="black", linewidth=1.2, label=f"{row['fit']} logistic fit")
        ax.set_xlabel(f"{metric} score")
        ax.set_ylabel("MOS")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        figures.append(Figure(_save(fig, out, f"scatter_{dataset}_{metric}"), "metrics"))
    return figures


def correlation_bars(agreement: pd.DataFrame, out: Path) -> list[Figure]:
    """Signed SRCC per metric with bootstrap CI whiskers, one bar per split."""
    plt = _pyplot()
    figures = []
    for dataset, group in agreement.groupby("dataset", sort=True):
        metrics = sorted(group["metric"].unique())
        splits = [ALL_SPLITS, *sorted(s for s in group["split"].unique() if s != ALL_SPLITS)]
        width = 0.8 / len(splits)
        fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(metrics) + 2), 3.6))
        for k, split in enumerate(splits):
            rows = group[group["split"] == split].set_index("metric").reindex(metrics)
            value = pd.to_numeric(rows["srcc"], errors="coerce").to_numpy()
            low = pd.to_numeric(rows["srcc_low"], errors="coerce").to_numpy()
            high = pd.to_numeric(rows["srcc_high"], errors="coerce").to_numpy()
            positions = np.arange(len(metrics)) + (k - (len(splits) - 1) / 2) * width
            error = np.vstack([value - low, high - value])
            ax.bar(positions, np.nan_to_num(value), width, label=split)
            ax.errorbar(positions, value, yerr=error, fmt="none", ecolor="black", capsize=3)
            for x, v in zip(positions, value, strict=True):
                if np.isnan(v):
                    ax.text(x, 0.02, "n/a", ha="center", fontsize=7, rotation=90)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(metrics)), metrics)
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel("SRCC with MOS (95% CI)")
        ax.set_title(f"{dataset}: agreement with MOS", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, title="split", title_fontsize=8)
        figures.append(Figure(_save(fig, out, f"correlations_{dataset}"), "metrics"))
    return figures


def level_plots(
    results: pd.DataFrame, columns: tuple[MetricColumn, ...], out: Path
) -> list[Figure]:
    """Mean score (95% CI) against degradation level, one line per model × degradation
    (shifted sideways a little so that series at the same level stay visible); ``columns``
    give each metric variant's direction."""
    plt = _pyplot()
    figures = []
    data = with_variant_labels(results)
    data = data.assign(label=data["model"])
    arrows = {column.label: column.spec.arrow for column in columns}
    for (dataset, metric), group in data.groupby(["dataset", "metric"], sort=True):
        fig, ax = plt.subplots(figsize=(4.6, 3.6))
        lines = list(group.groupby(["label", "degradation"], sort=True))
        for k, ((model, degradation), series) in enumerate(lines):
            stats = [
                (level, *mean_ci(part["value"].tolist()))
                for level, part in series.groupby("level", sort=True)
            ]
            levels, means, lows, highs = np.array(stats, dtype=float).T
            error = np.nan_to_num(np.vstack([means - lows, highs - means]))
            dodge = (k - (len(lines) - 1) / 2) * 0.012  # keep overlapping series apart
            ax.errorbar(
                levels + dodge,
                means,
                yerr=error,
                marker="o",
                capsize=3,
                label=f"{model} · {degradation}",
            )
        arrow = arrows.get(metric, "")
        ax.set_xlabel("degradation level")
        ax.set_ylabel(f"{metric} {arrow}")
        ax.set_title(f"{dataset}: {metric} by level", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        figures.append(Figure(_save(fig, out, f"levels_{dataset}_{metric}"), "models"))
    return figures


def maps_for(
    scored: pd.DataFrame, specs: dict[str, MetricSpec], out: Path, limit: int
) -> list[Figure]:
    """Copy the map artefacts of the ``limit`` most changed pairs of each metric into ``out``.

    A metric declares a map artefact by storing its PNG path under ``map`` in a score's
    details (``clu`` with ``maps_dir``); most changed is worst in the metric's own direction.
    ``scored`` is the labelled frame of scores (:func:`with_variant_labels`)."""
    figures: list[Figure] = []
    for metric, rows in scored[scored["details"].notna()].groupby("metric", sort=True):
        spec = specs[rows["metric_name"].iloc[0]]
        rows = rows.sort_values(["value", "item_id"], ascending=[spec.higher_is_better, True])
        copied = 0
        for row in rows.to_dict("records"):
            details = json.loads(row["details"])
            source = Path(str(details.get("map", ""))) if isinstance(details, dict) else Path()
            if copied == limit or source.suffix != MAP_SUFFIX or not source.is_file():
                continue
            name = f"map_{spec.name}_{len(figures)}_{row['item_id']}"  # labels hold options
            target = path_inside(out, name, suffix=MAP_SUFFIX)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            caption = (
                f"{row['item_id']} · {row['model']} · {row['degradation']}@{row['level']:g} · "
                f"{metric} {row['value']:.3f}"
            )
            figures.append(Figure(target, "maps", caption))
            copied += 1
    return figures
