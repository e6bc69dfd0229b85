"""Paired GT/SR training data read from a manifest, its splits and its fingerprint.

A pair manifest is an ordinary semfid-bench manifest of paired items (``sr`` set, see
:mod:`semfid_bench.datasets.manifest`)::

    {"id": "p1", "gt": "gt/p1.png", "sr": "sr/p1.png", "mos": 0.4, "split": "train"}
    {"id": "p2", "gt": "gt/p2.png", "sr": "sr/p2.png", "labels": {"c2c": 0.8}}

Targets: ``mos`` or any name in ``labels`` is used as it is; ``c2c`` and ``c2i`` labels hold
the cosine similarities of those pseudo-labels (as their metrics report them) and the
target is ``1 − similarity``. Every target means *more semantic change = higher*. CLU
pairs need a ``mask`` image instead: white (1) where content is kept, black (0) where it
changed.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from semfid_bench.datasets.manifest import Item, load_manifest
from semfid_bench.plugin_api.errors import ManifestError

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


def _pair(item: Item, target: str | None, masks: bool, problems: list[str]) -> Pair | None:
    where = f"item {item.id!r}"
    start = len(problems)
    if item.sr is None:
        problems.append(f"{where}: no 'sr' image; training needs GT/SR pairs")
    if masks and item.mask is None:
        problems.append(f"{where}: no 'mask'; CLU training needs one per pair")
    value = item.label(target) if target else None
    if target and value is None:
        problems.append(f"{where}: no target {target!r} (give 'mos' or labels.{target})")
    if len(problems) > start:
        return None
    if value is not None and target in SIMILARITY_TARGETS:
        value = 1.0 - value
    return Pair(item.id, item.gt, item.sr, value, item.mask if masks else None, item.split)


def load_pairs(
    path: str | Path,
    *,
    target: str | None = None,
    masks: bool = False,
    allow_outside_paths: bool = False,
) -> list[Pair]:
    """Read and validate a pair manifest; raise :class:`ManifestError` listing every problem.

    :param target: what the regressor learns (``mos``, ``c2c``, ``c2i`` or any label name);
        None when no target is needed.
    :param masks: require a ``mask`` on every pair (CLU training).
    """
    manifest = load_manifest(path, allow_outside_paths=allow_outside_paths)
    problems: list[str] = []
    pairs = [pair for item in manifest if (pair := _pair(item, target, masks, problems))]
    if problems:
        raise ManifestError(str(manifest.path), problems)
    return pairs


def thesis_split(pairs: list[Pair], seed: int, train_fraction: float = 0.8) -> dict:
    """The thesis code's split: ``torch.utils.data.random_split`` of the manifest's rows
    into ``int(0.8·n)`` train and the rest test, with ``torch.Generator().manual_seed(seed)``
    (42 there); the test split is also what each epoch is evaluated on ("val"). The same
    rows in the same order as the reference's CSV give the same split. A manifest with
    ``split`` fields keeps them."""
    import torch

    if any(p.split for p in pairs):
        train = [p for p in pairs if p.split == "train"]
        test = [p for p in pairs if p.split == "test"]
    else:
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))
        n_train = int(train_fraction * len(pairs))
        train = [pairs[i] for i in order[:n_train].tolist()]
        test = [pairs[i] for i in order[n_train:].tolist()]
    if not train or not test:
        raise ManifestError(
            "(pairs)",
            [f"need train and test pairs, got {len(train)} train and {len(test)} test"],
        )
    return {"train": train, "val": test, "test": test}


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
