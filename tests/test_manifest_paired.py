"""Paired manifest items: an SR image given beside the GT, with optional labels."""

import json
import shutil
from pathlib import Path

import pytest

from semfid_bench.datasets.manifest import load_manifest
from semfid_bench.plugin_api.errors import ManifestError

SAMPLE = Path(__file__).resolve().parent.parent / "semfid_bench" / "data" / "sample"


def write(tmp_path: Path, *rows: dict) -> Path:
    for name in ("chelsea", "coffee"):
        shutil.copy(SAMPLE / f"{name}.png", tmp_path / f"{name}.png")
    header = {"format": "semfid-bench-manifest", "version": 1, "name": "t"}
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


def test_paired_item_with_labels(tmp_path):
    row = {"id": "a", "gt": "coffee.png", "sr": "coffee.png", "model": "m", "level": 0.5}
    item = load_manifest(write(tmp_path, row | {"mos": 0.25, "split": "test"})).items[0]
    assert item.paired and item.sr == (tmp_path / "coffee.png").resolve()
    assert (item.model, item.degradation, item.level, item.mos) == ("m", None, 0.5, 0.25)


def test_paired_item_may_name_its_lr(tmp_path):
    row = {"id": "a", "gt": "coffee.png", "sr": "coffee.png", "lr": "coffee.png"}
    item = load_manifest(write(tmp_path, row)).items[0]
    assert item.paired and item.lr == (tmp_path / "coffee.png").resolve()


def test_unpaired_item_is_unchanged(tmp_path):
    item = load_manifest(write(tmp_path, {"id": "a", "gt": "coffee.png"})).items[0]
    assert not item.paired and item.model is None


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"sr": "chelsea.png"}, "must have the GT's size"),
        ({"model": "m"}, "need an 'sr' path"),
        ({"sr": "coffee.png", "level": 2}, "'level' must be a number in [0, 1]"),
        ({"sr": "missing.png"}, "sr file not found"),
        ({"sr": "coffee.png", "model": 3}, "'model' must be a string"),
    ],
)
def test_bad_paired_items_are_reported(tmp_path, row, problem):
    path = write(tmp_path, {"id": "a", "gt": "coffee.png"} | row)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_bundled_user_study_manifest_loads():
    from semfid_bench.plugins.sample_data import USER_STUDY_MANIFEST

    manifest = load_manifest(USER_STUDY_MANIFEST)
    assert len(manifest) == 28 and all(i.paired and i.mos is not None for i in manifest)
    assert {i.split for i in manifest} == {"train", "test"}
