import json
import shutil
from pathlib import Path

import pytest

from semfid_bench.datasets.manifest import (
    FORMAT,
    load_manifest,
    manifest_from_folder,
    write_manifest,
)
from semfid_bench.plugin_api.errors import ManifestError


def _write(path: Path, rows: list[dict], header: dict | None = None) -> Path:
    header = header or {"format": FORMAT, "version": 1, "name": "t"}
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


@pytest.fixture
def images(tmp_path: Path, sample_manifest: Path) -> Path:
    for name in ("chelsea.png", "coffee.png"):
        shutil.copy(sample_manifest.parent / name, tmp_path / name)
    return tmp_path


def test_sample_manifest_loads_with_absolute_paths(sample_manifest):
    manifest = load_manifest(sample_manifest)
    assert manifest.name == "sample"
    assert [item.id for item in manifest] == ["astronaut", "chelsea", "coffee", "rocket"]
    assert all(item.gt.is_absolute() and item.gt.is_file() for item in manifest)
    assert all(item.caption for item in manifest)


def test_every_problem_is_reported_with_line_and_path(images):
    (images / "broken.png").write_bytes(b"not an image at all")
    path = _write(
        images / "m.jsonl",
        [
            {"id": "a", "gt": "chelsea.png", "mos": 0.5},
            {"id": "b", "gt": "missing.png"},
            {"id": "a", "gt": "coffee.png"},
            {"id": "c", "gt": "broken.png"},
            {"id": "d", "gt": "coffee.png", "mos": "high"},
            {"id": "e", "gt": "coffee.png", "colour": "red"},
            {"gt": "coffee.png"},
        ],
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    problems = caught.value.problems
    text = "\n".join(problems)
    assert len(problems) == 6, text
    assert f"line 3 (id 'b'): gt file not found: {images / 'missing.png'}" in text
    assert "line 4 (id 'a'): duplicate id, first used on line 2" in text
    assert f"line 5 (id 'c'): gt {images / 'broken.png'} is not a readable image" in text
    assert "line 6 (id 'd'): 'mos' must be a finite number" in text
    assert "line 7 (id 'e'): unknown field(s) ['colour']" in text
    assert "line 8 (id None): 'id' is required" in text
    assert str(path) in str(caught.value)


def test_header_and_json_errors(images):
    path = images / "m.jsonl"
    path.write_text('{"id": "a", "gt": "chelsea.png"}\n{not json}\n')
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert any(p.startswith("line 1: header must be") for p in caught.value.problems)
    assert any(p.startswith("line 2: not valid JSON") for p in caught.value.problems)


def test_unsupported_version_and_nan_mos(images):
    path = images / "m.jsonl"
    path.write_text(
        json.dumps({"format": FORMAT, "version": 99})
        + '\n{"id": "a", "gt": "chelsea.png", "mos": NaN}\n'
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    text = "\n".join(caught.value.problems)
    assert "version 99 is not supported" in text
    assert "line 2: NaN is not a JSON number" in text


def test_missing_manifest_file(tmp_path):
    with pytest.raises(ManifestError, match="manifest file not found"):
        load_manifest(tmp_path / "nope.jsonl")


def test_manifest_from_folder_round_trips(images):
    (images / "sub").mkdir()
    shutil.copy(images / "coffee.png", images / "sub" / "coffee.png")
    path = manifest_from_folder(images, name="mine")
    manifest = load_manifest(path)
    assert manifest.name == "mine"
    assert sorted(item.id for item in manifest) == ["chelsea", "coffee", "sub/coffee"]


def test_optional_fields_are_parsed(images):
    path = images / "m.jsonl"
    write_manifest(
        path,
        "t",
        [
            {
                "id": "7",
                "gt": "chelsea.png",
                "lr": "coffee.png",
                "caption": "cat",
                "mos": 1,
                "split": "train",
            }
        ],
    )
    (item,) = load_manifest(path).items
    assert item.id == "7" and item.mos == 1.0 and item.split == "train"
    assert item.lr == images / "coffee.png" and item.caption == "cat"


def test_labels_are_numbers_read_by_name(images):
    path = _write(
        images / "m.jsonl",
        [
            {"id": "a", "gt": "chelsea.png", "mos": 0.5, "labels": {"c2c": 0.8, "fraction": 1}},
            {"id": "b", "gt": "coffee.png", "labels": {"c2c": "high"}},
            {"id": "c", "gt": "coffee.png", "labels": [0.1]},
        ],
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert caught.value.problems == [
        "line 3 (id 'b'): label 'c2c' must be a finite number, got 'high'",
        "line 4 (id 'c'): 'labels' must be an object of numbers, got [0.1]",
    ]
    _write(path, [{"id": "a", "gt": "chelsea.png", "mos": 0.5, "labels": {"c2c": 0.8}}])
    (item,) = load_manifest(path).items
    assert (item.label("c2c"), item.label("mos"), item.label("nope")) == (0.8, 0.5, None)
