"""Pseudo-labels: score a paired manifest's pairs with any metrics and write the values
into each item's ``labels`` (e.g. ``labels.c2c``, ready for ``train regressor --target c2c``).

Scoring goes through the normal runner into a results database, so finished values are
reused and an interrupted labelling resumes. A value that failed or is not finite (PSNR of
identical images) is left out of that item's labels and counted.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from semfid_bench.datasets.manifest import Manifest, load_manifest, write_manifest
from semfid_bench.datasets.manifest_rows import header_records, item_row
from semfid_bench.execution.runner import GIVEN_SR, Progress, RunConfig, RunSummary, run_benchmark
from semfid_bench.execution.store import METRIC_KEY_COLUMNS, ResultsStore
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.registry import Registry


@dataclass
class Labelling:
    """What ``label_pairs`` did: the run, labels written, values missing per metric."""

    summary: RunSummary
    written: int = 0
    missing: dict[str, int] = field(default_factory=dict)


def _values(
    results: pd.DataFrame, manifest: Manifest, summary: RunSummary
) -> dict[tuple[str, str], float]:
    """(item id, metric) → value of the paired cells, for the run's metric keys (effective
    options and version).

    A cell with several values (its GT or SR file changed since an earlier run) takes the
    one this run computed; if this run reused one of several, that is an error."""
    cells = {
        (
            item.id,
            item.degradation or GIVEN_SR,
            1.0 if item.level is None else item.level,
            item.model or GIVEN_SR,
        )
        for item in manifest
    }
    keys = {key.key for key in summary.keys.get("metric", [])}
    metric_key = results[METRIC_KEY_COLUMNS].apply(tuple, axis=1)
    rows = results[(results["dataset"] == manifest.name) & metric_key.isin(keys)]
    rows = rows[
        [
            cell in cells
            for cell in zip(
                rows["item_id"], rows["degradation"], rows["level"], rows["model"], strict=True
            )
        ]
    ]
    values: dict[tuple[str, str], float] = {}
    for (item_id, metric), group in rows.groupby(["item_id", "metric"]):
        if len(group) > 1:
            group = group[group["run_id"] == summary.run_id]
        if len(group) != 1:
            raise SemfidError(
                f"Item {item_id!r} has several {metric} values for different image files.",
                hint="Label into a fresh --db, or remove the stale results.",
            )
        values[(item_id, metric)] = float(group["value"].iloc[0])
    return values


def label_pairs(
    pairs: Path,
    metrics: list[str],
    registry: Registry,
    db: Path,
    out: Path | None = None,
    *,
    device: str = "auto",
    options: dict | None = None,
    progress: Progress | None = None,
    allow_outside_paths: bool = False,
) -> Labelling:
    """Score every pair of ``pairs`` with ``metrics`` (cached in ``db``) and write the
    manifest with the values in each item's labels to ``out`` (default: ``pairs`` itself,
    replaced atomically). ``allow_outside_paths`` as for :func:`load_manifest` (a pairs
    manifest usually points into a run's image folder)."""
    manifest = load_manifest(pairs, allow_outside_paths=allow_outside_paths)
    unpaired = [item.id for item in manifest if not item.paired]
    if unpaired:
        raise SemfidError(
            f"{len(unpaired)} item(s) of {manifest.path} have no 'sr' image, e.g. {unpaired[0]!r}.",
            hint="Labelling scores given pairs; make them with 'semfid-bench dataset select'.",
        )
    options = options or {}
    config = RunConfig(
        models=[],
        metrics=metrics,
        dataset=None,
        manifest=manifest.path,
        device=device,
        options=options,
        allow_outside_paths=allow_outside_paths,
    )
    with ResultsStore(db) as store:
        summary = run_benchmark(config, registry, store, progress)
        values = _values(store.results(), manifest, summary)
    out = Path(out or manifest.path).resolve()
    labelling = Labelling(summary=summary, missing=dict.fromkeys(metrics, 0))
    rows = []
    for item in manifest:
        labels = dict(item.labels)
        for metric in metrics:
            value = values.get((item.id, metric))
            if value is None or not math.isfinite(value):
                labelling.missing[metric] += 1
                labels.pop(metric, None)
                continue
            labels[metric] = value
            labelling.written += 1
        rows.append(item_row(replace(item, labels=tuple(sorted(labels.items()))), out.parent))
    record = {"metrics": metrics, "options": options, "db": str(Path(db).resolve())}
    extra = header_records(manifest.path) | {"labelling": record}
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, suffix=".jsonl.tmp")
    os.close(handle)
    try:
        write_manifest(Path(temporary), manifest.name, rows, extra=extra)
        load_manifest(temporary, allow_outside_paths=allow_outside_paths)
        os.replace(temporary, out)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return labelling
