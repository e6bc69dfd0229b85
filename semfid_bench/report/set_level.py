"""Set-level values for reports: each slice's per-item statistics reduced to one value.

A reducer is a plain function ``reduce(stats, item_ids, options) -> float``: ``stats`` the
slice's per-item statistics dicts in item order (as :class:`SetMetric.item_stats` returned
them, arrays decoded), ``item_ids`` the matching ids, ``options`` the metric's effective
options. It lives in a module that imports no model code, because reports call it.
:func:`set_level_boards` gives one row per (dataset, degradation, level, scale, seed, model
variant, metric variant), with a bootstrap CI over items where the spec says it is
meaningful.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.report.stats import bootstrap_indices

if TYPE_CHECKING:
    import pandas as pd

    from semfid_bench.execution.store import ResultsStore
    from semfid_bench.plugin_api.registry import Registry
    from semfid_bench.plugin_api.specs import MetricSpec

Reducer = Callable[[Sequence[dict[str, Any]], Sequence[str], dict[str, Any]], float]
SLICE = ["dataset", "degradation", "level", "scale", "seed", "model", "metric"]
"""The columns of one set-level value, as :func:`set_level_boards` labels them."""
_SLICE_KEY = [
    "dataset", "degradation", "degradation_options", "degradation_version",
    "degradation_execution", "level", "scale", "seed", "model", "model_options",
    "model_version", "model_execution", "metric", "metric_options", "metric_version",
    "metric_execution",
]  # fmt: skip


def resolve_reducer(spec: MetricSpec) -> Reducer:
    """The spec's reducer function (imported from ``spec.reduce``)."""
    module_name, _, attribute = spec.reduce.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise PluginError(
            f"Set-level metric {spec.name!r}: cannot load its reducer {spec.reduce!r} ({exc})."
        ) from exc


def bootstrap_ci(
    reducer: Reducer,
    stats: Sequence[dict[str, Any]],
    item_ids: Sequence[str],
    options: dict[str, Any],
    resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``reducer`` over items resampled with replacement;
    (nan, nan) with fewer than two items."""
    if len(stats) < 2 or resamples < 1:
        return math.nan, math.nan
    values = [
        reducer([stats[i] for i in rows], [item_ids[i] for i in rows], options)
        for rows in bootstrap_indices(len(stats), resamples, seed)
    ]
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def slice_key(identity: list[Any]) -> str:
    """A short hash naming one reduced value: its slice's complete key and its items."""
    return hashlib.sha256(json.dumps(identity, default=str).encode()).hexdigest()[:16]


def set_level_boards(
    store: ResultsStore,
    registry: Registry | None = None,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Every set-level metric reduced per slice.

    One row per (dataset, degradation variant, level, scale, seed, model variant, metric
    variant) with ``value``, ``low``/``high`` (bootstrap CI over items, NaN where the spec's
    ``reduce_ci`` is False), ``n_items``, ``higher_is_better``, ``error`` (why a value is
    missing: reducer failed, metric not installed) and ``key`` (hash of the slice's complete
    key and its items' ids and input hashes). Only each item's current inputs count (as for
    per-item leaderboards). Reducers come from the installed plugins' specs (``registry``,
    default: the plugin manager's), never from the database, which names no code to run.
    """
    import pandas as pd

    from semfid_bench.report.labels import LABELLED, with_variant_labels

    columns = [*SLICE, "value", "low", "high", "n_items", "higher_is_better", "error", "key"]
    frame = store.item_stats()
    if frame.empty:
        return pd.DataFrame(columns=columns)
    if registry is None:
        from semfid_bench.plugin_api.plugin_manager import build_registry

        registry = build_registry()
    labelled = with_variant_labels(frame)  # only current inputs: one row per item
    by = [f"{c}_name" if c in LABELLED else c for c in _SLICE_KEY]  # raw names, not labels
    rows = []
    for _, group in labelled.groupby(by, sort=True):
        first = group.iloc[0]
        ids = group["item_id"].tolist()
        identity: list[Any] = [str(first[c]) for c in by]
        identity += sorted(zip(ids, group["gt_hash"], group["inputs_hash"], strict=True))
        row = {c: first[c] for c in SLICE} | {"n_items": len(ids), "key": slice_key(identity)}
        row |= _reduced(registry, str(first["metric_name"]), group, ids, resamples, seed)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _reduced(registry, name: str, group, ids: list[str], resamples: int, seed: int) -> dict:
    result: dict[str, Any] = {"value": math.nan, "low": math.nan, "high": math.nan}
    try:
        spec = registry.get("metric", name).spec
        if not spec.set_level:
            raise PluginError(f"metric {name!r} is installed, but not as a set-level metric")
        reducer = resolve_reducer(spec)
        options = json.loads(group["metric_options"].iloc[0])
        stats = group["stats"].tolist()
        result["value"] = float(reducer(stats, ids, options))
        if spec.reduce_ci:
            result["low"], result["high"] = bootstrap_ci(
                reducer, stats, ids, options, resamples, seed
            )
    except Exception as exc:
        return result | {"higher_is_better": None, "error": f"{type(exc).__name__}: {exc}"}
    return result | {"higher_is_better": spec.higher_is_better, "error": None}
