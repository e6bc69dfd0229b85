"""Results as reports read them: every plugin variant under its readable label.

A variant is a plugin with particular options (``psnr-y[crop_border=0]``): variants are
never pooled, and rows of an item's superseded inputs are left out.
"""

from __future__ import annotations

import json

import pandas as pd

LABELLED = ("degradation", "model", "metric")


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
