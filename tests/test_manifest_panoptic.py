"""The manifest's panoptic annotation fields (``panoptic`` PNG + COCO ``segments``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from semfid_bench.datasets.manifest import FORMAT, PanopticSegment, load_manifest
from semfid_bench.plugin_api.errors import ManifestError


def _write(path: Path, rows: list[dict]) -> Path:
    header = {"format": FORMAT, "version": 1, "name": "t"}
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    Image.new("RGB", (8, 6)).save(tmp_path / "gt.png")
    Image.fromarray(np.full((6, 8, 3), (1, 0, 0), np.uint8)).save(tmp_path / "pan.png")
    Image.fromarray(np.zeros((5, 8, 3), np.uint8)).save(tmp_path / "small.png")
    return tmp_path


def test_segments_are_read(folder):
    segments = [
        {"id": 1, "category_id": 17, "iscrowd": 0, "area": 48, "bbox": [0, 0, 8, 6]},
        {"id": 2, "category_id": 1, "iscrowd": 1},
        {"id": 3, "category_id": 184},
    ]
    row = {"id": "a", "gt": "gt.png", "panoptic": "pan.png", "segments": segments}
    (item,) = load_manifest(_write(folder / "m.jsonl", [row]))
    assert item.panoptic == folder / "pan.png"
    assert item.segments == (
        PanopticSegment(1, 17, False),
        PanopticSegment(2, 1, True),
        PanopticSegment(3, 184, False),
    )
    (plain,) = load_manifest(_write(folder / "n.jsonl", [{"id": "a", "gt": "gt.png"}]))
    assert plain.panoptic is None and plain.segments == ()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"panoptic": "pan.png"}, "'panoptic' and 'segments' annotate together"),
        ({"segments": []}, "'panoptic' and 'segments' annotate together"),
        ({"panoptic": "small.png", "segments": []}, "is 8x5 but gt is 8x6"),
        ({"panoptic": "pan.png", "segments": {}}, "'segments' must be a list"),
        ({"panoptic": "pan.png", "segments": [1]}, "segments[0] must be an object"),
        ({"panoptic": "pan.png", "segments": [{"id": 0, "category_id": 1}]}, "'id' must be"),
        ({"panoptic": "pan.png", "segments": [{"id": 2**24, "category_id": 1}]}, "'id' must"),
        ({"panoptic": "pan.png", "segments": [{"id": 1}]}, "'category_id' must be"),
        (
            {"panoptic": "pan.png", "segments": [{"id": 1, "category_id": True}]},
            "'category_id' must be",
        ),
        (
            {"panoptic": "pan.png", "segments": [{"id": 1, "category_id": 1, "iscrowd": 2}]},
            "'iscrowd' must be 0 or 1",
        ),
        (
            {"panoptic": "pan.png", "segments": [{"id": 1, "category_id": 1, "iscrowd": True}]},
            "'iscrowd' must be 0 or 1",
        ),
        (
            {"panoptic": "pan.png", "segments": [{"id": 1, "category_id": 1, "iscrowd": 1.0}]},
            "'iscrowd' must be 0 or 1",
        ),
        (
            {"panoptic": "pan.png", "segments": [{"id": 1, "category_id": 1, "colour": 2}]},
            "unknown field(s) ['colour']",
        ),
        (
            {"panoptic": "pan.png", "segments": [{"id": 4, "category_id": 1}] * 2},
            "segment ids [4] are used more than once",
        ),
        ({"panoptic": "missing.png", "segments": []}, "panoptic file not found"),
        ({"panoptic": "../pan.png", "segments": []}, "outside the manifest's folder"),
    ],
)
def test_bad_annotations_are_reported_with_their_line(folder, fields, expected):
    path = _write(folder / "m.jsonl", [{"id": "a", "gt": "gt.png", **fields}])
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert any(
        problem.startswith("line 2 (id 'a')") and expected in problem
        for problem in caught.value.problems
    ), caught.value.problems


def test_the_annotation_is_in_the_inputs_hash(folder):
    """Results are keyed by the annotation they were scored against; items without one
    keep the hash they had before these fields existed."""
    from dataclasses import replace

    from semfid_bench.datasets.manifest import Item
    from semfid_bench.execution.planner import inputs_hash

    row = {
        "id": "a",
        "gt": "gt.png",
        "panoptic": "pan.png",
        "segments": [{"id": 1, "category_id": 1}],
    }
    (item,) = load_manifest(_write(folder / "m.jsonl", [row]))
    crowd = replace(item, segments=(PanopticSegment(1, 1, True),))
    other = replace(item, panoptic=folder / "small.png")
    assert len({inputs_hash(item), inputs_hash(crowd), inputs_hash(other)}) == 3
    # the formula before the annotation fields: caption, labels, mask and LR only
    before = {"caption": None, "labels": [], "mask": None, "lr": None}
    text = json.dumps(before, sort_keys=True, separators=(",", ":"))
    expected = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert inputs_hash(Item(id="a", gt=item.gt)) == expected
