"""Item statistics survive the store bit-exact; what JSON cannot hold is refused early."""

from __future__ import annotations

import numpy as np
import pytest

from semfid_bench.execution.set_level_stats import decode_stats, encode_stats


def test_nested_arrays_and_scalars_round_trip_bit_exact():
    rng = np.random.default_rng(0)
    stats = {
        "features": rng.standard_normal(2048).astype(np.float32),
        "per_class": {"tp": np.arange(6, dtype=np.int64).reshape(2, 3), "iou": [0.5, 1.0]},
        "masks": [rng.random((4, 5)) > 0.5, np.zeros((0, 3), dtype=np.uint8)],
        "count": np.int32(7),
        "label": "cat",
        "none": None,
    }
    back = decode_stats(encode_stats(stats))
    np.testing.assert_array_equal(back["features"], stats["features"])
    assert back["features"].dtype == np.float32
    assert back["per_class"]["tp"].shape == (2, 3) and back["per_class"]["tp"].dtype == np.int64
    assert back["masks"][0].dtype == np.bool_ and back["masks"][1].shape == (0, 3)
    np.testing.assert_array_equal(back["masks"][0], stats["masks"][0])
    assert back["count"] == 7 and back["label"] == "cat" and back["none"] is None
    assert back["per_class"]["iou"] == [0.5, 1.0]


@pytest.mark.parametrize(
    ("stats", "error"),
    [
        ({"x": float("nan")}, ValueError),
        ({"x": [np.array([1.0, np.inf], dtype=np.float32)]}, ValueError),
        ({"x": np.array([object()])}, TypeError),
        ({"__ndarray__": 1}, ValueError),
        ({1: 2}, TypeError),
        ([1, 2], TypeError),
        ({"x": {1, 2}}, TypeError),
    ],
)
def test_what_cannot_be_stored_is_refused(stats, error):
    with pytest.raises(error):
        encode_stats(stats)
