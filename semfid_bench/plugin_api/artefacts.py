"""What a metric's stored details show a reader: typed artefacts for the item pages.

A metric factory turns one result's ``details`` dict into these through
:class:`~semfid_bench.plugin_api.interfaces.ProducesArtefacts`; the report renders them by type, so
no report code names a metric. The ``*_from`` helpers read the JSON shapes the built-in
metrics store and raise ``ValueError`` naming the field on any other shape (the report
shows that message instead of the artefact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Concept:
    """One concept of a decomposition and its (non-negative) weight."""

    name: str
    weight: float


@dataclass(frozen=True)
class ConceptChanges:
    """Concepts the SR image lost (in GT − SR) and gained (in SR − GT), strongest first,
    with the top concepts of GT and SR themselves."""

    lost: tuple[Concept, ...]
    gained: tuple[Concept, ...]
    gt: tuple[Concept, ...] = ()
    sr: tuple[Concept, ...] = ()


@dataclass(frozen=True)
class Captions:
    """The GT's caption and, where the metric made one, the SR image's; ``note`` says what
    to keep in mind reading them (e.g. a caption cut to the text encoder's length)."""

    gt: str
    sr: str | None = None
    note: str = ""


@dataclass(frozen=True)
class MapImage:
    """A map already drawn as an image file over the SR image (a CLU heat map)."""

    path: Path
    legend: str


@dataclass(frozen=True)
class ClassMap:
    """A coarse per-location class map: ``cells[row][column]`` is an index into
    ``classes``, −1 where the location was not judged; ``counts`` are each class's
    locations in the full-resolution map; ``legend`` says what area the map covers.
    ``cell_pixels``: SR pixels per cell side, the map centred on the SR image (a border
    left out); None: the map stretched over the whole image."""

    classes: tuple[str, ...]
    cells: tuple[tuple[int, ...], ...]
    counts: tuple[int, ...]
    legend: str
    cell_pixels: int | None = None


Artefact = ConceptChanges | Captions | MapImage | ClassMap


def _field(details: dict[str, Any], key: str) -> Any:
    if key not in details:
        raise ValueError(f"details have no {key!r}")
    return details[key]


def concepts_from(value: Any, key: str = "concepts") -> tuple[Concept, ...]:
    """``[[name, weight], ...]`` (as SpLiCE details store them) → concepts."""
    if not isinstance(value, list):
        raise ValueError(f"{key!r} is not a list of [concept, weight] pairs")
    concepts = []
    for entry in value:
        if not (isinstance(entry, list | tuple) and len(entry) == 2):
            raise ValueError(f"{key!r} holds {entry!r}, not a [concept, weight] pair")
        name, weight = entry
        if not isinstance(name, str) or not isinstance(weight, int | float):
            raise ValueError(f"{key!r} holds {entry!r}, not a [concept, weight] pair")
        if not math.isfinite(weight):
            raise ValueError(f"{key!r}: concept {name!r} has weight {weight!r}")
        concepts.append(Concept(name, float(weight)))
    return tuple(concepts)


def concept_changes_from(details: dict[str, Any]) -> ConceptChanges:
    """Details with ``lost`` and ``gained`` (and optionally ``gt_concepts``,
    ``sr_concepts``) → :class:`ConceptChanges`."""
    lists = {
        key: concepts_from(details.get(key, []) if optional else _field(details, key), key)
        for key, optional in (
            ("lost", False),
            ("gained", False),
            ("gt_concepts", True),
            ("sr_concepts", True),
        )
    }
    return ConceptChanges(
        lists["lost"], lists["gained"], lists["gt_concepts"], lists["sr_concepts"]
    )


def captions_from(details: dict[str, Any], note: str = "") -> Captions:
    """Details with ``gt_caption`` (and optionally ``sr_caption``) → :class:`Captions`."""
    gt, sr = _field(details, "gt_caption"), details.get("sr_caption")
    if not isinstance(gt, str) or not (sr is None or isinstance(sr, str)):
        raise ValueError("gt_caption/sr_caption are not text")
    return Captions(gt, sr, note)


def class_map_from(
    details: dict[str, Any], classes: tuple[str, ...], legend: str, centred: bool = False
) -> ClassMap:
    """Details with ``map`` (rows of class indices, −1 = not judged) and ``counts``
    (``{class: count}``) → :class:`ClassMap`; ``centred``: the map's cells are
    ``map_stride`` SR pixels wide, centred on the SR image."""
    rows, counts = _field(details, "map"), _field(details, "counts")
    valid = range(-1, len(classes))
    if not (
        isinstance(rows, list)
        and rows
        and all(isinstance(row, list) and len(row) == len(rows[0]) for row in rows)
        and rows[0]
        and all(isinstance(v, int) and v in valid for row in rows for v in row)
    ):
        raise ValueError("'map' is not a rectangle of class indices")
    if not isinstance(counts, dict) or not all(isinstance(counts.get(c), int) for c in classes):
        raise ValueError(f"'counts' does not give a count for each of {', '.join(classes)}")
    stride = details.get("map_stride", 1) if centred else None
    if stride is not None and not (isinstance(stride, int) and stride >= 1):
        raise ValueError(f"'map_stride' is {stride!r}, not a positive integer")
    cells = tuple(tuple(row) for row in rows)
    return ClassMap(tuple(classes), cells, tuple(counts[c] for c in classes), legend, stride)


def map_image_from(details: dict[str, Any], legend: str) -> MapImage:
    """Details with ``map`` (the path of a PNG file) → :class:`MapImage`."""
    path = _field(details, "map")
    if not isinstance(path, str) or not path.endswith(".png"):
        raise ValueError("'map' is not the path of a PNG file")
    return MapImage(Path(path), legend)
