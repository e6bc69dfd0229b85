"""Paired GT/SR training data read from a manifest, its splits and its fingerprint.

A pair manifest is an ordinary semfid-bench manifest (same header) whose items also name
an ``sr`` image::

    {"id": "p1", "gt": "gt/p1.png", "sr": "sr/p1.png", "mos": 0.4, "split": "train"}

Targets: ``mos`` or any numeric column is used as it is; ``c2c`` and ``c2i`` columns hold
the cosine similarities of those pseudo-labels (as their metrics report them) and the
target is ``1 − similarity``. Every target means *more semantic change = higher*. CLU
pairs need a ``mask`` image instead: white (1) where content is kept, black (0) where it
changed.

Rows are parsed here (not with :func:`semfid_bench.manifest.load_manifest`) because the
``sr`` field is not part of the manifest format yet; problems are reported the same way,
each with its line number and path.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from semfid_bench.errors import ManifestError
from semfid_bench.images import check_readable
from semfid_bench.manifest import FORMAT, VERSION

SIMILARITY_TARGETS = ("c2c", "c2i")
VAL_SPLITS = ("val", "valid", "validation")


@dataclass(frozen=True)
class Pair:
    """One GT/SR pair; paths are absolute. ``target`` for the regressor, ``mask`` for CLU."""

    id: str
    gt: Path
    sr: Path
    target: float | None = None
    mask: Path | None = None
    split: str | None = None


def _path(row: dict, key: str, where: str, root: Path, problems: list[str]) -> Path | None:
    value = row.get(key)
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: {key!r} is required (a path relative to the manifest)")
        return None
    path = (root / value).resolve()
    if not path.is_file():
        problems.append(f"{where}: {key} file not found: {path}")
        return None
    try:
        check_readable(path)
    except ValueError as exc:
        problems.append(f"{where}: {key} {path} is {exc}")
        return None
    return path


def _target(row: dict, target: str, where: str, problems: list[str]) -> float | None:
    value = row.get(target)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"{where}: target column {target!r} must be a finite number, got {value!r}")
        return None
    return 1.0 - float(value) if target in SIMILARITY_TARGETS else float(value)


def load_pairs(path: str | Path, *, target: str | None = None, masks: bool = False) -> list[Pair]:
    """Read and validate a pair manifest; raise :class:`ManifestError` listing every problem.

    :param target: the column the regressor learns (``mos``, ``c2c``, ``c2i`` or any
        numeric column); None when no target is needed.
    :param masks: require a ``mask`` on every row (CLU training).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ManifestError(str(path), [f"manifest file not found: {path}"])
    problems: list[str] = []
    pairs: list[Pair] = []
    seen: dict[str, int] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg})")
            continue
        if number == 1:
            if not isinstance(row, dict) or row.get("format") != FORMAT:
                problems.append(f'line 1: header must be {{"format": "{FORMAT}", ...}}')
            elif row.get("version") != VERSION:
                problems.append(f"line 1: manifest version {row.get('version')!r} not supported")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {number}: an item must be a JSON object")
            continue
        where = f"line {number} (id {row.get('id')!r})"
        start = len(problems)
        item_id = str(row.get("id", ""))
        if not item_id:
            problems.append(f"{where}: 'id' is required")
        elif item_id in seen:
            problems.append(f"{where}: duplicate id, first used on line {seen[item_id]}")
        gt = _path(row, "gt", where, path.parent, problems)
        sr = _path(row, "sr", where, path.parent, problems)
        mask = _path(row, "mask", where, path.parent, problems) if masks else None
        value = _target(row, target, where, problems) if target else None
        split = row.get("split")
        if split is not None and not isinstance(split, str):
            problems.append(f"{where}: 'split' must be a string, got {split!r}")
        if len(problems) > start:
            continue
        seen[item_id] = number
        pairs.append(Pair(item_id, gt, sr, value, mask, split))
    if not pairs and not problems:
        problems.append("the manifest has no pairs")
    if problems:
        raise ManifestError(str(path), problems)
    return pairs


def split_pairs(
    pairs: list[Pair], seed: int, test_fraction: float = 0.2, val_fraction: float = 0.1
) -> dict[str, list[Pair]]:
    """Train / val / test lists.

    The manifest's ``split`` fields are used when any row has one (``train``, ``test``,
    ``val``/``valid``/``validation``; others are ignored); without a validation split, one
    is drawn from train. Without any split the pairs are shuffled with ``seed`` and cut
    ``1 − test − val`` / ``val`` / ``test`` (the reference's 80/20 with a tenth of all
    pairs held out of train for early stopping).
    """
    rng = random.Random(seed)
    if any(p.split for p in pairs):
        train = [p for p in pairs if p.split == "train"]
        test = [p for p in pairs if p.split == "test"]
        val = [p for p in pairs if p.split in VAL_SPLITS]
    else:
        shuffled = list(pairs)
        rng.shuffle(shuffled)
        n_test = max(1, round(len(shuffled) * test_fraction))
        test, train, val = shuffled[:n_test], shuffled[n_test:], []
    if not val:
        shuffled = list(train)
        rng.shuffle(shuffled)
        n_val = max(1, round((len(train) + len(test)) * val_fraction))
        val, train = shuffled[:n_val], shuffled[n_val:]
    if not train or not test:
        raise ManifestError(
            "(pairs)",
            [f"need train and test pairs, got {len(train)} train and {len(test)} test"],
        )
    return {"train": train, "val": val, "test": test}


def data_hash(splits: dict[str, list[Pair]]) -> str:
    """SHA-256 over every pair's id, split, image bytes and target: which data trained a
    checkpoint, independent of where the files lie."""
    digest = hashlib.sha256()
    for split in sorted(splits):
        for pair in sorted(splits[split], key=lambda p: p.id):
            digest.update(f"{split}\x1f{pair.id}\x1f{pair.target!r}\x1f".encode())
            for file in (pair.gt, pair.sr, pair.mask):
                if file is not None:
                    digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()
