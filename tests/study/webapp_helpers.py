"""A small study on disk for the rating web app's tests: 6 GT images, 12 GT/SR pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from semfid_bench.datasets.manifest import load_manifest

TOKEN = "admin-token-for-tests"


def write_study(folder: Path, gts: int = 6, srs_per_gt: int = 2) -> Path:
    """Images with distinct colours and a pairs manifest pointing at them."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = [{"format": "semfid-bench-manifest", "version": 1, "name": "web-study"}]
    for g in range(gts):
        colour = rng.integers(0, 256, size=3)
        gt = np.tile(colour, (48, 64, 1)).astype(np.uint8)
        Image.fromarray(gt).save(folder / "images" / f"gt{g}.png")
        for s in range(srs_per_gt):
            sr = gt.copy()
            sr[8 * s : 8 * s + 16, 8:40] = rng.integers(0, 256, size=3)
            Image.fromarray(sr).save(folder / "images" / f"gt{g}_sr{s}.png")
            rows.append(
                {
                    "id": f"pair<{g}>/{s}",
                    "gt": f"images/gt{g}.png",
                    "sr": f"images/gt{g}_sr{s}.png",
                    "model": f"model-{s}",
                }
            )
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_app(folder: Path, db: Path, **settings):
    """The rating app for the study in ``folder`` (written on first use)."""
    from semfid_bench.study.webapp import create_app

    pairs = folder / "pairs.jsonl"
    manifest = load_manifest(pairs if pairs.exists() else write_study(folder))
    return create_app(manifest, db, TOKEN, **settings)
