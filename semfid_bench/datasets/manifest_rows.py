"""Manifest items back into manifest rows, for commands that rewrite a manifest elsewhere."""

from __future__ import annotations

import json
import os
from pathlib import Path

from semfid_bench.datasets.manifest import FORMAT, Item


def item_row(item: Item, folder: Path) -> dict:
    """An item as a manifest row with paths relative to ``folder``; unset fields left out."""

    def relative(path: Path | None) -> str | None:
        return None if path is None else Path(os.path.relpath(path, folder)).as_posix()

    row = {
        "id": item.id,
        "gt": relative(item.gt),
        "lr": relative(item.lr),
        "sr": relative(item.sr),
        "mask": relative(item.mask),
        "caption": item.caption,
        "mos": item.mos,
        "split": item.split,
        "model": item.model,
        "degradation": item.degradation,
        "level": item.level,
        "labels": dict(item.labels) or None,
    }
    return {key: value for key, value in row.items() if value is not None}


def header_records(path: Path) -> dict:
    """The fields a manifest's header adds to format, version and name (how it was made)."""
    with open(path, encoding="utf-8") as handle:
        header = json.loads(handle.readline())
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return {}
    return {k: v for k, v in header.items() if k not in ("format", "version", "name")}
