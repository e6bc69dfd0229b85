"""Set-level metrics (FID, KID, PQ): each image's statistics, checked and encoded for the
store.

A set-level metric is registered like any metric, with ``MetricSpec(reduce="module:func")``;
its object is a :class:`~semfid_bench.plugin_api.interfaces.SetMetric`. The runner stores
each cell's statistics (:func:`item_statistics`) under the cell's complete key in the
store's ``item_stats`` table, so keys, resume and claims work as for per-item results;
reports reduce them (:mod:`semfid_bench.report.set_level`).
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


_ARRAY = "__ndarray__"


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        if data.dtype.hasobject:
            raise TypeError("object arrays cannot be stored as item statistics")
        if data.dtype.kind in "fc" and not np.isfinite(data).all():
            raise ValueError("item statistics hold non-finite values (NaN or inf)")
        return {
            _ARRAY: {
                "dtype": data.dtype.str,
                "shape": list(data.shape),
                "data": base64.b64encode(data.tobytes()).decode("ascii"),
            }
        }
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        if _ARRAY in value:
            raise ValueError(f"item statistics may not use the key {_ARRAY!r}")
        if not all(isinstance(key, str) for key in value):
            raise TypeError("item statistics dicts need string keys")
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if _ARRAY in value:
            array = value[_ARRAY]
            data = base64.b64decode(array["data"])
            return np.frombuffer(data, dtype=np.dtype(array["dtype"])).reshape(array["shape"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def encode_stats(stats: dict[str, Any]) -> str:
    """Item statistics as text for the store: JSON, numpy arrays bit-exact (dtype, shape,
    base64 bytes). Raises TypeError/ValueError for anything else JSON cannot hold and for
    NaN or inf (in arrays too), so a broken statistic is an error row at once, not a failed
    reduction later."""
    if not isinstance(stats, dict):
        raise TypeError(f"item statistics must be a dict, got {type(stats).__name__}")
    return json.dumps(_encode(stats), separators=(",", ":"), allow_nan=False)


def decode_stats(text: str) -> dict[str, Any]:
    """The inverse of :func:`encode_stats` (arrays come back read-only)."""
    return _decode(json.loads(text))


def item_statistics(name: str, metric: Any, sr: torch.Tensor, reference: Any, **inputs: Any):
    """The statistics of each SR image of a batch from a set-level metric, checked to be
    one encodable dict per image (a bad one is an error row of this metric, not a failed
    database write)."""
    stats = metric.item_stats(sr, reference, **inputs)
    count = len(sr)
    if not isinstance(stats, list | tuple) or len(stats) != count:
        raise ValueError(
            f"metric {name!r} returned item stats {stats!r:.80}, expected {count} dict(s)"
        )
    for entry in stats:
        if not isinstance(entry, dict):
            raise ValueError(f"metric {name!r} returned item stats {entry!r:.80}, not a dict")
        encode_stats(entry)
    return list(stats)
