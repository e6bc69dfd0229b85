"""Pick SR pairs for a study from a run: moderate classical scores, not blurred, balanced.

The study (thesis §3) kept SR outputs whose normalised SSIM and LPIPS lay in 0.6–0.8 (the
best results vary too little pixel-wise for semantic errors to appear), removed the most
blurred by a no-reference score, and chose the user-study pairs by the lowest
GT-caption-to-SR CLIP score. Here, in this order:

1. *Candidates*: every (item, degradation, level, model) cell of the dataset in the results
   database whose SR image was saved with ``run --save-images`` (others are counted).
2. *Band*: each selected metric is min–max normalised over the candidates and oriented so
   that 1 is the best value (``(v - min) / (max - min)``, or ``(max - v) / (max - min)``
   for lower-is-better metrics such as LPIPS); a pair stays if every normalised score lies
   in ``[low, high]``.
3. *Blur filter*: the ``drop_blurriest`` fraction of the remaining pairs with the lowest
   sharpness is dropped. Sharpness is the variance of the Laplacian of the SR image's grey
   levels (OpenCV, 3×3 kernel: works offline), or any metric scored in the run (its worst
   values count as the blurriest).
4. *Choice*: with ``rank_by``, the ``lowest`` pairs by that metric's raw value; otherwise a
   balanced draw: pairs are grouped by (model, degradation, level), shuffled within groups
   (seeded) and taken round-robin until ``count`` (all pairs without a count).
5. *Split*: GT images (not pairs, so no GT is in both) are shuffled with the seed and
   ``test_fraction`` of them go to ``test``, the rest to ``train``.

Ties are broken by pair id, so the result depends only on the inputs and the seed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from semfid_bench.datasets.images import read_rgb
from semfid_bench.datasets.manifest import Manifest, load_manifest, write_manifest
from semfid_bench.execution.runner import saved_image_path
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.specs import MetricSpec

LAPLACIAN = "laplacian"
CELL = ["item_id", "degradation", "level", "model"]


@dataclass(frozen=True)
class SelectionCriteria:
    """Everything that decides a selection; recorded in the output manifest's header."""

    metrics: tuple[str, ...] = ("ssim", "lpips")
    band: tuple[float, float] = (0.6, 0.8)
    blur_by: str = LAPLACIAN
    drop_blurriest: float = 0.6
    count: int | None = None
    rank_by: str | None = None
    lowest: int | None = None
    test_fraction: float = 0.2
    seed: int = 0

    def check(self) -> None:
        """Raise on values that cannot mean anything."""
        low, high = self.band
        problems = []
        if not self.metrics:
            problems.append("select at least one band metric")
        if not 0 <= low <= high <= 1:
            problems.append(f"band must satisfy 0 <= low <= high <= 1, got {self.band}")
        if not 0 <= self.drop_blurriest < 1:
            problems.append(f"drop-blurriest must be in [0, 1), got {self.drop_blurriest}")
        if not 0 <= self.test_fraction <= 1:
            problems.append(f"test-fraction must be in [0, 1], got {self.test_fraction}")
        if self.count is not None and self.count < 1:
            problems.append(f"count must be at least 1, got {self.count}")
        if (self.rank_by is None) != (self.lowest is None):
            problems.append("rank-by and lowest go together")
        if self.rank_by is not None and self.count is not None:
            problems.append("give either count (balanced draw) or rank-by/lowest, not both")
        if self.lowest is not None and self.lowest < 1:
            problems.append(f"lowest must be at least 1, got {self.lowest}")
        if problems:
            raise SemfidError("Bad selection: " + "; ".join(problems) + ".")


def laplacian_variance(path: Path) -> float:
    """Variance of the Laplacian of an image's grey levels: low means blurred."""
    import cv2

    grey = cv2.cvtColor(read_rgb(path), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def normalise(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Min–max normalise to [0, 1] with 1 the best value."""
    low, high = float(values.min()), float(values.max())
    if not high > low:
        raise SemfidError(
            f"Metric {values.name!r} has the same value ({low:g}) for every candidate pair; "
            "it cannot be normalised into a band."
        )
    scaled = (values - low) / (high - low)
    return scaled if higher_is_better else 1.0 - scaled


def cell_table(results: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One row per SR cell of ``dataset``, one column per metric (raw values)."""
    rows = results[results["dataset"] == dataset]
    # option variants of a model or degradation are cells (and image folders) of their own
    rows = rows.assign(model=rows["model_label"], degradation=rows["degradation_label"])
    if rows.empty:
        raise SemfidError(f"The results database has no results for dataset {dataset!r}.")
    counts = rows.groupby([*CELL, "metric"]).size()
    if (counts > 1).any():
        cell = counts[counts > 1].index[0]
        raise SemfidError(
            f"Cell {cell} has several results (another seed, scale or option set); the saved "
            "images cannot be told apart.",
            hint="Select from a database holding one run configuration per dataset.",
        )
    table = rows.pivot_table(index=CELL, columns="metric", values="value", aggfunc="first")
    table.columns.name = None
    return table.reset_index().sort_values(CELL, ignore_index=True)


def pair_id(row: pd.Series) -> str:
    return f"{row['item_id']}/{row['model']}/{row['degradation']}@{row['level']:g}"


def _balanced(table: pd.DataFrame, count: int | None, rng: np.random.Generator) -> pd.DataFrame:
    groups = [
        group.iloc[rng.permutation(len(group))]
        for _, group in table.groupby(["model", "degradation", "level"], sort=True)
    ]
    order: list[int] = []
    for depth in range(max((len(g) for g in groups), default=0)):
        order += [g.index[depth] for g in groups if depth < len(g)]
    return table.loc[order[:count] if count is not None else order]


def _splits(items: list[str], fraction: float, rng: np.random.Generator) -> dict[str, str]:
    shuffled = [items[i] for i in rng.permutation(len(items))]
    tests = round(fraction * len(shuffled))
    return {item: "test" if n < tests else "train" for n, item in enumerate(shuffled)}


@dataclass
class Selection:
    """The chosen pairs (a table with ``pair_id``, ``sr`` path, metric columns, ``split``),
    the counts after each step and the normalisation ranges."""

    pairs: pd.DataFrame
    counts: dict[str, int]
    ranges: dict[str, list[float]]
    criteria: SelectionCriteria


def _check_metrics(table: pd.DataFrame, specs: dict, criteria: SelectionCriteria) -> None:
    needed = [*criteria.metrics, criteria.rank_by]
    if criteria.blur_by != LAPLACIAN:
        needed.append(criteria.blur_by)
    scored = sorted(set(table.columns) - set(CELL))
    for name in filter(None, needed):
        if name not in table.columns:
            raise SemfidError(
                f"Metric {name!r} was not scored in this run; it has {scored}.",
                hint=f"Run again with --metrics including {name} (results are cached).",
            )
        if name not in specs:
            raise SemfidError(f"The results database has no spec for metric {name!r}.")


def _in_band(table: pd.DataFrame, specs: dict, criteria: SelectionCriteria) -> pd.DataFrame:
    """Add ``<metric>_normalised`` columns; keep rows with every one inside the band."""
    inside = pd.Series(True, index=table.index)
    for name in criteria.metrics:
        scaled = normalise(table[name].rename(name), specs[name].higher_is_better)
        table = table.assign(**{f"{name}_normalised": scaled})
        inside &= scaled.between(*criteria.band)
    return table[inside].sort_values("pair_id")


def _drop_blurred(
    table: pd.DataFrame, specs: dict, criteria: SelectionCriteria, sharpness: Callable
) -> pd.DataFrame:
    if criteria.blur_by == LAPLACIAN:
        sharp = table["sr"].map(sharpness)
    else:
        raw = table[criteria.blur_by]
        sharp = raw if specs[criteria.blur_by].higher_is_better else -raw
    blurred = math.floor(criteria.drop_blurriest * len(table))
    table = table.assign(sharpness=sharp)
    return table.sort_values(["sharpness", "pair_id"], kind="stable").iloc[blurred:]


def select_pairs(
    table: pd.DataFrame,
    specs: dict[str, MetricSpec],
    criteria: SelectionCriteria,
    sr_path: Callable[[pd.Series], Path],
    sharpness: Callable[[Path], float] = laplacian_variance,
) -> Selection:
    """Apply the band, blur filter, choice and split to ``cell_table``'s rows."""
    criteria.check()
    _check_metrics(table, specs, criteria)
    table = table.assign(pair_id=table.apply(pair_id, axis=1))
    table = table.assign(sr=table.apply(sr_path, axis=1))
    counts = {"cells": len(table)}
    table = table[table["sr"].map(Path.is_file)].dropna(subset=list(criteria.metrics))
    counts["candidates"] = len(table)
    if table.empty:
        raise SemfidError("No candidate pair has a saved SR image and the band metrics.")
    ranges = {m: [float(table[m].min()), float(table[m].max())] for m in criteria.metrics}
    table = _in_band(table, specs, criteria)
    counts["in_band"] = len(table)
    table = _drop_blurred(table, specs, criteria, sharpness).sort_values("pair_id")
    counts["after_blur_filter"] = len(table)
    rng = np.random.default_rng(criteria.seed)
    if criteria.rank_by is not None:
        chosen = table.dropna(subset=[criteria.rank_by])
        chosen = chosen.sort_values([criteria.rank_by, "pair_id"], kind="stable")
        chosen = chosen.head(criteria.lowest)
    else:
        chosen = _balanced(table, criteria.count, rng)
    counts["selected"] = len(chosen)
    split = _splits(sorted(set(chosen["item_id"])), criteria.test_fraction, rng)
    chosen = chosen.assign(split=chosen["item_id"].map(split))
    return Selection(chosen.reset_index(drop=True), counts, ranges, criteria)


def run_manifest(store: ResultsStore, dataset: str) -> Path:
    """The manifest path the latest run of ``dataset`` recorded."""
    for config in reversed(store.runs()["config"].tolist()):
        record = json.loads(config)
        if record.get("dataset") == dataset and record.get("manifest"):
            return Path(record["manifest"])
    raise SemfidError(f"No run of dataset {dataset!r} recorded its manifest; pass --manifest.")


def only_dataset(results: pd.DataFrame) -> str:
    """The results' single dataset, or an error naming the choices."""
    names = sorted(set(results["dataset"]))
    if len(names) != 1:
        raise SemfidError(f"The results database holds datasets {names}; pick one with --dataset.")
    return names[0]


def select_from_run(
    db: Path,
    images: Path,
    criteria: SelectionCriteria,
    dataset: str | None = None,
    manifest: Path | None = None,
    allow_outside_paths: bool = False,
) -> tuple[Selection, Manifest, dict]:
    """Select pairs from a results database and the images its run saved; return the
    selection, the GT manifest (read with ``allow_outside_paths`` as for
    :func:`load_manifest`) and a record of the sources."""
    criteria.check()
    if not Path(db).is_file():
        raise SemfidError(f"Results database not found: {db}", hint="Pass the run's --db.")
    with ResultsStore(db) as store:
        results = store.results()
        if results.empty:
            raise SemfidError(f"The results database {db} holds no results.")
        name = dataset or only_dataset(results)
        gt_manifest = load_manifest(
            manifest or run_manifest(store, name), allow_outside_paths=allow_outside_paths
        )
        specs = store.metric_specs()
    selection = select_pairs(
        cell_table(results, name),
        specs,
        criteria,
        lambda row: saved_image_path(
            images, name, row["degradation"], row["level"], row["model"], row["item_id"]
        ),
    )
    source = {"db": str(Path(db).resolve()), "images": str(Path(images).resolve()), "dataset": name}
    return selection, gt_manifest, source


def write_selection(
    selection: Selection,
    manifest: Manifest,
    out: Path,
    source: dict,
) -> int:
    """Write the chosen pairs as a paired manifest; the header records ``source`` (where
    the results and images came from), the criteria and the counts after each step."""
    if selection.pairs.empty:
        raise SemfidError(
            f"No pair is left to write (counts after each step: {selection.counts}).",
            hint="Widen --band or lower --drop-blurriest.",
        )
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    items = {item.id: item for item in manifest}
    missing = sorted(set(selection.pairs["item_id"]) - set(items))
    if missing:
        raise SemfidError(f"Item(s) {missing[:10]} of the results are not in {manifest.path}.")
    rows = []
    for _, pair in selection.pairs.iterrows():
        item = items[pair["item_id"]]
        row = {
            "id": pair["pair_id"],
            "gt": Path(os.path.relpath(item.gt, out.parent)).as_posix(),
            "sr": Path(os.path.relpath(pair["sr"], out.parent)).as_posix(),
            "caption": item.caption,
            "split": pair["split"],
            "model": pair["model"],
            "degradation": pair["degradation"],
            "level": float(pair["level"]),
        }
        rows.append({k: v for k, v in row.items() if v is not None})
    header = {
        "selection": {
            "source": source,
            "criteria": asdict(selection.criteria),
            "normalisation": "min-max over the candidates, 1 = best value",
            "ranges": selection.ranges,
            "counts": selection.counts,
        }
    }
    write_manifest(out, f"{manifest.name}-pairs", rows, extra=header)
    load_manifest(out, allow_outside_paths=True)  # it points into the run's image folder
    return len(rows)
