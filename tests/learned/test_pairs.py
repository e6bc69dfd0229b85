"""Pair manifests: validation with line numbers and paths, targets, splits, data hash."""

from __future__ import annotations

import json
import shutil

import pytest

from semfid_bench.learned.pairs import data_hash, load_pairs, split_pairs
from semfid_bench.plugin_api.errors import ManifestError


def _rewrite(manifest, edit):
    lines = manifest.read_text().splitlines()
    rows = [json.loads(line) for line in lines[1:]]
    edit(rows)
    manifest.write_text("\n".join([lines[0], *(json.dumps(r) for r in rows)]) + "\n")


@pytest.fixture
def pairs_copy(small_pairs, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(small_pairs.parent, folder)
    return folder / small_pairs.name


def test_pairs_load_with_absolute_paths_targets_and_splits(small_pairs):
    pairs = load_pairs(small_pairs, target="fraction", masks=True)
    assert len(pairs) == 24
    assert all(p.gt.is_absolute() and p.sr.is_file() and p.mask.is_file() for p in pairs)
    assert all(0.0 <= p.target <= 0.6 for p in pairs)
    assert {p.split for p in pairs} == {"train", "val", "test"}


def test_similarity_targets_become_one_minus_similarity(pairs_copy):
    def add(rows):
        for row in rows:
            row["labels"]["c2c"] = 0.25

    _rewrite(pairs_copy, add)
    assert {p.target for p in load_pairs(pairs_copy, target="c2c")} == {0.75}


def test_every_bad_row_is_reported_with_line_and_path(pairs_copy):
    def spoil(rows):
        rows[0]["sr"] = "sr/missing.png"
        rows[1]["labels"]["fraction"] = "high"
        del rows[2]["gt"]
        rows[3]["mask"] = "nowhere.png"

    _rewrite(pairs_copy, spoil)
    with pytest.raises(ManifestError) as info:
        load_pairs(pairs_copy, target="fraction", masks=True)
    problems = info.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("line 2 (id 'p000')") and "missing.png" in problems[0]
    assert problems[1].startswith("line 3") and "'fraction'" in problems[1]
    assert problems[2].startswith("line 4") and "'gt' is required" in problems[2]
    assert problems[3].startswith("line 5") and "nowhere.png" in problems[3]


def test_manifest_splits_are_used_and_a_missing_one_is_drawn_with_the_seed(small_pairs):
    pairs = load_pairs(small_pairs, target="fraction")
    splits = split_pairs(pairs, seed=0)
    assert {p.split for p in splits["test"]} == {"test"}
    assert {p.split for p in splits["val"]} == {"val"}
    unsplit = [type(p)(p.id, p.gt, p.sr, p.target) for p in pairs]
    first, again = split_pairs(unsplit, seed=5), split_pairs(unsplit, seed=5)
    other = split_pairs(unsplit, seed=6)
    assert [p.id for p in first["test"]] == [p.id for p in again["test"]]
    assert [p.id for p in first["test"]] != [p.id for p in other["test"]]
    assert sorted(len(v) for v in first.values()) == [2, 5, 17]
    ids = [p.id for split in first.values() for p in split]
    assert sorted(ids) == sorted(p.id for p in pairs)


def test_data_hash_changes_with_a_label(small_pairs):
    pairs = load_pairs(small_pairs, target="fraction")
    before = data_hash(split_pairs(pairs, 0))
    changed = [type(p)(p.id, p.gt, p.sr, p.target + 0.01, p.mask, p.split) for p in pairs]
    assert data_hash(split_pairs(changed, 0)) != before
    assert data_hash(split_pairs(pairs, 0)) == before
