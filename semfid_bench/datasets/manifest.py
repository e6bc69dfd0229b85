"""Dataset manifests: a versioned JSONL file, one item per line.

Line 1 is a header, every other non-blank line an item::

    {"format": "semfid-bench-manifest", "version": 1, "name": "sample"}
    {"id": "cat", "gt": "images/cat.png", "caption": "a cat", "mos": 0.2, "split": "test"}

Item fields: ``id`` (required, unique), ``gt`` (required path), and optional ``lr`` (a given
LR image instead of degrading the GT), ``caption`` (of the GT), ``mask`` (path), ``mos``
(finite number) and ``split`` (e.g. ``train``/``test``). Paths are relative to the
manifest's folder and must stay inside it (no absolute or ``../`` paths) unless the user
passes ``--allow-outside-paths``. Loading validates everything up front and reports every
problem with its line number and path; the file is strict UTF-8 JSON lines (no duplicate
keys, no NaN/Infinity), ids are strings and ``version`` an integer.

A *paired* item holds a finished SR image: ``sr`` (path, same size as ``gt``) is scored
directly, with no degradation and no SR model; this is how a user study is evaluated. Its
optional labels ``model``, ``degradation`` (strings) and ``level`` (in [0, 1]) say how the
SR image was made, so that several SR models per GT group properly in leaderboards; they
are only allowed with ``sr``. A paired item may also name the ``lr`` its SR image was
made from: metrics that compare with the LR (``needs_lr``) read it. These fields were
added to version 1 without a bump: every earlier version-1 file still reads the same.

``panoptic`` (path to a COCO panoptic PNG of the GT, the GT's size, segment id = R +
256·G + 256²·B, 0 unlabelled) with ``segments`` (its COCO ``segments_info``: a list of
``{"id", "category_id", "iscrowd"}`` objects; COCO's ``area`` and ``bbox`` may stay) are the
GT's annotations for the segmentation metrics (``seg-pq``, ``seg-ap``, ``seg-miou`` with
``mode=annotations``); each needs the other.

``labels`` (an object of finite numbers, e.g. ``{"c2c": 0.81, "fraction": 0.2}``) carries
any other per-item numbers: pseudo-labels or synthetic targets for training learned metrics.
"""

from __future__ import annotations

import json
import math
import os
import reprlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from semfid_bench.datasets.images import IMAGE_SUFFIXES, check_readable
from semfid_bench.plugin_api.errors import ManifestError

FORMAT = "semfid-bench-manifest"
VERSION = 1
PATH_FIELDS = ("gt", "lr", "sr", "mask", "panoptic")
PAIR_LABELS = ("model", "degradation", "level")
ITEM_FIELDS = ("id", *PATH_FIELDS, "segments", "caption", "mos", "split", *PAIR_LABELS, "labels")
SEGMENT_FIELDS = ("id", "category_id", "iscrowd", "area", "bbox")
#: Largest segment id a COCO panoptic PNG can hold (three 8-bit channels).
MAX_SEGMENT_ID = 256**3 - 1


@dataclass(frozen=True)
class PanopticSegment:
    """One entry of a COCO panoptic ``segments_info``: the id its pixels carry in the PNG,
    its COCO category id and whether it is a crowd region."""

    id: int
    category_id: int
    iscrowd: bool = False


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
    panoptic: Path | None = None
    """COCO panoptic PNG of the GT (with ``segments``): annotations for segmentation metrics."""
    segments: tuple[PanopticSegment, ...] = ()

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


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 2, 60, 60
_SHORT.maxlist = _SHORT.maxdict = 4


def _show(value: object) -> str:
    """A value for a message, cut short and shallow (safe for huge or deeply nested values)."""
    return _SHORT.repr(value)


class _BadJSON(ValueError):
    """A line that parses as JSON but breaks a rule of the format (duplicate key, NaN)."""


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    row: dict = {}
    for key, value in pairs:
        if key in row:
            raise _BadJSON(f"duplicate key {_show(key)} in one JSON object")
        row[key] = value
    return row


def _reject_constant(name: str) -> float:
    raise _BadJSON(f"{name} is not a JSON number")


def _parse_int(text: str) -> int | float:
    """Integers of more than 18 digits become floats (infinite if over float's range), so
    range checks never meet Python's digit limit or an OverflowError."""
    return int(text) if len(text.lstrip("-")) <= 18 else float(text)


def _parse_line(line: str) -> object:
    """One JSON value; ValueError with a short reason if the line is not acceptable JSON."""
    try:
        return json.loads(
            line,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
        )
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg}, column {exc.colno})") from exc
    except _BadJSON as exc:
        raise ValueError(str(exc)) from exc
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def _lone_surrogate(value: object) -> str | None:
    """The first string (key or value) holding a lone surrogate (\\ud800 escapes), if any;
    such text cannot be a file name, a database value or printed."""
    stack = [value]
    while stack:
        current = stack.pop()
        texts = [current] if isinstance(current, str) else []
        if isinstance(current, dict):
            texts += list(current)
            stack += list(current.values())
        elif isinstance(current, list):
            stack += current
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return text
    return None


def _check_header(header: object, where: str, problems: list[str]) -> str | None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        problems.append(
            f'{where}: header must be {{"format": "{FORMAT}", "version": {VERSION}}} '
            "(the first non-blank line)"
        )
        return None
    version = header.get("version")
    if type(version) is not int or version != VERSION:
        problems.append(
            f"{where}: manifest version {_show(version)} is not supported "
            f"(this semfid-bench reads version {VERSION}, an integer)"
        )
    name = header.get("name")
    if name is not None and not (isinstance(name, str) and name.strip()):
        problems.append(f"{where}: 'name' must be a non-empty string, got {_show(name)}")
        return None
    return name


def _outside(root: Path, value: str) -> bool:
    """True if ``value`` is absolute or climbs out of ``root`` (judged on the text, so a
    symlink the user placed inside the folder is followed)."""
    if Path(value).is_absolute():
        return True
    joined = os.path.normpath(os.path.join(root, value))
    return os.path.commonpath([joined, os.path.normpath(root)]) != os.path.normpath(root)


def _check_path(value: object, key: str, where: str, rules: _PathRules, problems: list[str]):
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: {key!r} must be a non-empty path string, got {_show(value)}")
        return None
    if "\x00" in value:
        problems.append(f"{where}: {key} path {_show(value)} contains a NUL character")
        return None
    if not rules.allow_outside and _outside(rules.root, value):
        problems.append(
            f"{where}: {key} path {_show(value)} is outside the manifest's folder "
            f"{rules.root}; paths must be relative and inside it unless "
            "--allow-outside-paths (allow_outside_paths=True) is given"
        )
        return None
    try:
        path = (rules.root / value).resolve()
        found = path.is_file()
    except (OSError, ValueError) as exc:
        problems.append(f"{where}: {key} path {_show(value)} cannot be used: {exc}")
        return None
    if not found:
        problems.append(f"{where}: {key} file not found: {path}")
        return None
    if key != "mask" or path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            check_readable(path)
        except ValueError as exc:
            problems.append(f"{where}: {key} {path} is {exc}")
            return None
    return path


@dataclass(frozen=True)
class _PathRules:
    root: Path
    allow_outside: bool


def _check_item(row: dict, where: str, rules: _PathRules, problems: list[str]) -> Item | None:
    start = len(problems)
    unknown = sorted(set(row) - set(ITEM_FIELDS))
    if unknown:
        shown = ", ".join(_show(key) for key in unknown[:5]) + (", …" if len(unknown) > 5 else "")
        problems.append(f"{where}: unknown field(s) [{shown}]; allowed: {list(ITEM_FIELDS)}")
    item_id = row.get("id")
    if not isinstance(item_id, str) or not item_id:
        problems.append(f"{where}: 'id' is required (a non-empty string), got {_show(item_id)}")
    if "gt" not in row:
        problems.append(f"{where}: 'gt' is required")
    paths = {
        key: _check_path(row[key], key, where, rules, problems)
        for key in PATH_FIELDS
        if row.get(key) is not None
    }
    mos = row.get("mos")
    if mos is not None and not _finite_number(mos):
        problems.append(f"{where}: 'mos' must be a finite number, got {_show(mos)}")
    for key in ("caption", "split", "model", "degradation"):
        if row.get(key) is not None and not isinstance(row[key], str):
            problems.append(f"{where}: {key!r} must be a string, got {_show(row[key])}")
    level = row.get("level")
    if level is not None and not (_finite_number(level) and 0 <= level <= 1):
        problems.append(f"{where}: 'level' must be a number in [0, 1], got {_show(level)}")
    _check_pair(row, where, paths, problems)
    segments = _check_panoptic(row, where, paths, problems)
    labels = _check_labels(row.get("labels"), where, problems)
    if len(problems) > start:
        return None
    return Item(
        id=item_id,
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
        panoptic=paths.get("panoptic"),
        segments=segments,
    )


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_labels(value: object, where: str, problems: list[str]) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.append(f"{where}: 'labels' must be an object of numbers, got {_show(value)}")
        return ()
    bad = {k: v for k, v in value.items() if not _finite_number(v)}
    for key, number in bad.items():
        problems.append(f"{where}: label {_show(key)} must be a finite number, got {_show(number)}")
    return tuple(sorted((k, float(v)) for k, v in value.items() if k not in bad))


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_panoptic(
    row: dict, where: str, paths: dict, problems: list[str]
) -> tuple[PanopticSegment, ...]:
    """The ``segments`` of a ``panoptic`` annotation, checked: both or neither given, the
    PNG of the GT's size, each segment a COCO ``segments_info`` entry with a unique id."""
    panoptic, value = row.get("panoptic"), row.get("segments")
    if (panoptic is None) != (value is None):
        problems.append(f"{where}: 'panoptic' and 'segments' annotate together; give both")
        return ()
    if value is None:
        return ()
    if paths.get("gt") is not None and paths.get("panoptic") is not None:
        gt_size, png_size = check_readable(paths["gt"]), check_readable(paths["panoptic"])
        if gt_size != png_size:
            problems.append(
                f"{where}: panoptic {paths['panoptic']} is {png_size[0]}x{png_size[1]} but gt "
                f"is {gt_size[0]}x{gt_size[1]}; the annotation must have the GT's size"
            )
    if not isinstance(value, list):
        problems.append(f"{where}: 'segments' must be a list of objects, got {_show(value)}")
        return ()
    segments: list[PanopticSegment] = []
    for index, segment in enumerate(value):
        at = f"{where}: segments[{index}]"
        before = len(problems)
        if not isinstance(segment, dict):
            problems.append(f"{at} must be an object, got {_show(segment)}")
            continue
        unknown = sorted(set(segment) - set(SEGMENT_FIELDS))
        if unknown:
            shown = ", ".join(_show(key) for key in unknown[:5])
            problems.append(f"{at}: unknown field(s) [{shown}]; allowed: {list(SEGMENT_FIELDS)}")
        sid, category, crowd = (segment.get(k) for k in ("id", "category_id", "iscrowd"))
        if not (_integer(sid) and 1 <= sid <= MAX_SEGMENT_ID):
            problems.append(
                f"{at}: 'id' must be an integer in [1, {MAX_SEGMENT_ID}], got {_show(sid)}"
            )
        if not (_integer(category) and 1 <= category <= MAX_SEGMENT_ID):
            problems.append(
                f"{at}: 'category_id' must be a positive integer, got {_show(category)}"
            )
        if crowd not in (None, 0, 1) or isinstance(crowd, bool | float):
            problems.append(f"{at}: 'iscrowd' must be 0 or 1, got {_show(crowd)}")
        if len(problems) == before:
            segments.append(PanopticSegment(sid, category, bool(crowd)))
    counts = Counter(segment.id for segment in segments)
    repeated = sorted(i for i, n in counts.items() if n > 1)
    if repeated:
        problems.append(f"{where}: segment ids {repeated[:5]} are used more than once")
    return tuple(segments)


def _check_pair(row: dict, where: str, paths: dict, problems: list[str]) -> None:
    if row.get("sr") is None:
        labels = [key for key in PAIR_LABELS if row.get(key) is not None]
        if labels:
            problems.append(f"{where}: {labels} label an SR image and need an 'sr' path")
        return
    if paths.get("gt") is not None and paths.get("sr") is not None:
        gt_size, sr_size = check_readable(paths["gt"]), check_readable(paths["sr"])
        if gt_size != sr_size:
            problems.append(
                f"{where}: sr {paths['sr']} is {sr_size[0]}x{sr_size[1]} but gt is "
                f"{gt_size[0]}x{gt_size[1]}; a paired SR image must have the GT's size"
            )


def _read_lines(path: Path) -> list[bytes]:
    try:
        return path.read_bytes().splitlines()
    except OSError as exc:
        raise ManifestError(str(path), [f"cannot read the manifest: {exc}"]) from exc


def _decode(raw: bytes, number: int) -> str:
    """One line as text; ValueError naming the first byte that is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        ) from exc
    return text.removeprefix("\ufeff") if number == 1 else text


def load_manifest(path: str | Path, *, allow_outside_paths: bool = False) -> Manifest:
    """Read and validate a manifest; raise :class:`ManifestError` listing every problem.

    Item paths must be relative and stay inside the manifest's folder unless
    ``allow_outside_paths`` (the CLI's ``--allow-outside-paths``) is given.
    """
    try:
        path = Path(path).resolve()
        found = path.is_file()
    except (OSError, ValueError) as exc:
        raise ManifestError(str(path), [f"cannot open the manifest: {exc}"]) from exc
    if not found:
        raise ManifestError(str(path), [f"manifest file not found: {path}"])
    rules = _PathRules(path.parent, allow_outside_paths)
    problems: list[str] = []
    items: list[Item] = []
    seen: dict[str, int] = {}
    name: str | None = None
    header_seen = False
    lines = _read_lines(path)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = _parse_line(_decode(raw, number))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            header_seen = True
            continue
        text = _lone_surrogate(row)
        if text is not None:
            problems.append(f"line {number}: text {text[:40]!r} holds a lone surrogate")
            header_seen = True
            continue
        if not header_seen:
            header_seen = True
            name = _check_header(row, f"line {number}", problems)
            continue
        if not isinstance(row, dict):
            problems.append(f"line {number}: an item must be a JSON object, got {_show(row)}")
            continue
        where = f"line {number} (id {_show(row.get('id'))})"
        item = _check_item(row, where, rules, problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"{where}: duplicate id, first used on line {seen[item.id]}")
            continue
        seen[item.id] = number
        items.append(item)
    if not header_seen:
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


def manifest_from_folder(
    folder: Path,
    out: Path | None = None,
    name: str | None = None,
    *,
    allow_outside_paths: bool = False,
) -> Path:
    """Write a manifest listing every image under ``folder`` (ids are relative paths
    without suffix); return its path. A manifest written outside ``folder`` refers to the
    images with ``../`` paths, so it needs ``allow_outside_paths``."""
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
    if not allow_outside_paths and any(_outside(out.parent, row["gt"]) for row in rows):
        raise ManifestError(
            str(out),
            [
                f"the images in {folder} are outside the manifest's folder {out.parent}; "
                "pass --allow-outside-paths to refer to them with ../ paths"
            ],
        )
    write_manifest(out, name or folder.name, rows)
    load_manifest(out, allow_outside_paths=allow_outside_paths)
    return out
