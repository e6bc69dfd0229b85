"""Dataset manifests: a versioned JSONL file, one item per line.

Line 1 is a header, every other non-blank line an item::

    {"format": "semfid-bench-manifest", "version": 1, "name": "sample"}
    {"id": "cat", "gt": "images/cat.png", "caption": "a cat", "mos": 0.2, "split": "test"}

Item fields: ``id`` (required, unique), ``gt`` (required path), and optional ``lr`` (a given
LR image instead of degrading the GT), ``caption`` (of the GT), ``mask`` (path), ``mos``
(finite number) and ``split`` (e.g. ``train``/``test``). Paths are relative to the
manifest's folder. Loading validates everything up front and reports every problem with
its line number and path.

A *paired* item holds a finished SR image: ``sr`` (path, same size as ``gt``) is scored
directly, with no degradation and no SR model; this is how a user study is evaluated. Its
optional labels ``model``, ``degradation`` (strings) and ``level`` (in [0, 1]) say how the
SR image was made, so that several SR models per GT group properly in leaderboards; they
are only allowed with ``sr``. These fields were added to version 1 without a bump: every
earlier version-1 file still reads the same.

``labels`` (an object of finite numbers, e.g. ``{"c2c": 0.81, "fraction": 0.2}``) carries
any other per-item numbers: pseudo-labels or synthetic targets for training learned metrics.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from semfid_bench.errors import ManifestError
from semfid_bench.images import IMAGE_SUFFIXES, check_readable

FORMAT = "semfid-bench-manifest"
VERSION = 1
PATH_FIELDS = ("gt", "lr", "sr", "mask")
PAIR_LABELS = ("model", "degradation", "level")
ITEM_FIELDS = ("id", *PATH_FIELDS, "caption", "mos", "split", *PAIR_LABELS, "labels")


@dataclass(frozen=True)
class Item:
    """One dataset item; paths are absolute."""

    id: str
    gt: Path
    lr: Path | None = None
    caption: str | None = None
    mask: Path | None = None
    mos: float | None = None
    split: str | None = None
    gt_hash: str | None = None
    """Content hash of the GT file, set by the runner when it reads it (keys feature caches)."""
    sr: Path | None = None
    labels: tuple[tuple[str, float], ...] = ()
    """Extra per-item numbers as (name, value) pairs; read them with :meth:`label`."""
    model: str | None = None
    degradation: str | None = None
    level: float | None = None

    def label(self, name: str) -> float | None:
        """A number from ``labels`` (``mos`` also answers to its name), or None."""
        if name == "mos":
            return self.mos
        return dict(self.labels).get(name)

    @property
    def paired(self) -> bool:
        """True if the item holds its SR image (scored without degradation or model)."""
        return self.sr is not None


@dataclass(frozen=True)
class Manifest:
    """A validated manifest."""

    name: str
    path: Path
    items: tuple[Item, ...]

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _check_header(header: object, problems: list[str]) -> str | None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        problems.append(f'line 1: header must be {{"format": "{FORMAT}", "version": {VERSION}}}')
        return None
    if header.get("version") != VERSION:
        problems.append(
            f"line 1: manifest version {header.get('version')!r} is not supported "
            f"(this semfid-bench reads version {VERSION})"
        )
    name = header.get("name")
    return name if isinstance(name, str) and name else None


def _check_path(value: object, key: str, where: str, root: Path, problems: list[str]):
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: {key!r} must be a non-empty path string")
        return None
    path = (root / value).resolve()
    if not path.is_file():
        problems.append(f"{where}: {key} file not found: {path}")
        return None
    if key != "mask" or path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            check_readable(path)
        except ValueError as exc:
            problems.append(f"{where}: {key} {path} is {exc}")
            return None
    return path


def _check_item(row: dict, where: str, root: Path, problems: list[str]) -> Item | None:
    start = len(problems)
    unknown = sorted(set(row) - set(ITEM_FIELDS))
    if unknown:
        problems.append(f"{where}: unknown field(s) {unknown}; allowed: {list(ITEM_FIELDS)}")
    item_id = row.get("id")
    if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id) == "":
        problems.append(f"{where}: 'id' is required (a non-empty string)")
    if "gt" not in row:
        problems.append(f"{where}: 'gt' is required")
    paths = {
        key: _check_path(row[key], key, where, root, problems)
        for key in PATH_FIELDS
        if row.get(key) is not None
    }
    mos = row.get("mos")
    if mos is not None and (
        isinstance(mos, bool) or not isinstance(mos, int | float) or not math.isfinite(mos)
    ):
        problems.append(f"{where}: 'mos' must be a finite number, got {mos!r}")
    for key in ("caption", "split", "model", "degradation"):
        if row.get(key) is not None and not isinstance(row[key], str):
            problems.append(f"{where}: {key!r} must be a string, got {row[key]!r}")
    level = row.get("level")
    if level is not None and (
        isinstance(level, bool) or not isinstance(level, int | float) or not 0 <= level <= 1
    ):
        problems.append(f"{where}: 'level' must be a number in [0, 1], got {level!r}")
    _check_pair(row, where, paths, problems)
    labels = _check_labels(row.get("labels"), where, problems)
    if len(problems) > start:
        return None
    return Item(
        id=str(item_id),
        gt=paths["gt"],
        lr=paths.get("lr"),
        caption=row.get("caption"),
        mask=paths.get("mask"),
        mos=None if mos is None else float(mos),
        split=row.get("split"),
        sr=paths.get("sr"),
        model=row.get("model"),
        degradation=row.get("degradation"),
        level=None if level is None else float(level),
        labels=labels,
    )


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_labels(value: object, where: str, problems: list[str]) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.append(f"{where}: 'labels' must be an object of numbers, got {value!r}")
        return ()
    bad = {k: v for k, v in value.items() if not _finite_number(v)}
    for key, number in bad.items():
        problems.append(f"{where}: label {key!r} must be a finite number, got {number!r}")
    return tuple(sorted((k, float(v)) for k, v in value.items() if k not in bad))


def _check_pair(row: dict, where: str, paths: dict, problems: list[str]) -> None:
    if row.get("sr") is None:
        labels = [key for key in PAIR_LABELS if row.get(key) is not None]
        if labels:
            problems.append(f"{where}: {labels} label an SR image and need an 'sr' path")
        return
    if row.get("lr") is not None:
        problems.append(f"{where}: give either 'lr' (to upscale) or 'sr' (to score), not both")
    if paths.get("gt") is not None and paths.get("sr") is not None:
        gt_size, sr_size = check_readable(paths["gt"]), check_readable(paths["sr"])
        if gt_size != sr_size:
            problems.append(
                f"{where}: sr {paths['sr']} is {sr_size[0]}x{sr_size[1]} but gt is "
                f"{gt_size[0]}x{gt_size[1]}; a paired SR image must have the GT's size"
            )


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest; raise :class:`ManifestError` listing every problem."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ManifestError(str(path), [f"manifest file not found: {path}"])
    problems: list[str] = []
    items: list[Item] = []
    seen: dict[str, int] = {}
    name: str | None = None
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
            name = _check_header(row, problems)
            continue
        if not isinstance(row, dict):
            problems.append(f"line {number}: an item must be a JSON object")
            continue
        where = f"line {number} (id {row.get('id')!r})"
        item = _check_item(row, where, path.parent, problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"{where}: duplicate id, first used on line {seen[item.id]}")
            continue
        seen[item.id] = number
        items.append(item)
    if not lines:
        problems.append("the manifest is empty")
    elif not items and not problems:
        problems.append("the manifest has no items")
    if problems:
        raise ManifestError(str(path), problems)
    return Manifest(name=name or path.stem, path=path, items=tuple(items))


def write_manifest(path: Path, name: str, rows: list[dict], extra: dict | None = None) -> None:
    """Write a manifest: the header, then one JSON object per row. ``extra`` adds header
    fields that record how the manifest was made (readers ignore them)."""
    header = {"format": FORMAT, "version": VERSION, "name": name}
    clash = set(header) & set(extra or {})
    if clash:
        raise ValueError(f"extra header fields {sorted(clash)} would replace the header's own")
    header |= extra or {}
    with open(path, "w", encoding="utf-8") as handle:
        for row in [header, *rows]:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def manifest_from_folder(folder: Path, out: Path | None = None, name: str | None = None) -> Path:
    """Write a manifest listing every image under ``folder`` (ids are relative paths
    without suffix); return its path."""
    folder = folder.resolve()
    out = (out or folder / "manifest.jsonl").resolve()
    images = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not images:
        raise ManifestError(str(folder), [f"no images ({', '.join(IMAGE_SUFFIXES)}) found"])
    rows = [
        {
            "id": p.relative_to(folder).with_suffix("").as_posix(),
            "gt": Path(os.path.relpath(p, out.parent)).as_posix(),
        }
        for p in images
    ]
    write_manifest(out, name or folder.name, rows)
    load_manifest(out)
    return out
