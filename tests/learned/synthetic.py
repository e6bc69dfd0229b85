"""Synthetic pairs with a known answer, cut from the bundled sample photographs.

Each SR image is its GT crop with a rectangle replaced by the same place in another
photograph; the regression label is the replaced fraction of the area, the CLU mask is 0
inside the rectangle and 1 elsewhere. Every SR image also gets Gaussian noise of a random
strength, independent of the label, so that plain pixel or feature differences are a poor
guess and the model has to learn which differences mean changed content.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from semfid_bench.datasets.images import read_rgb
from semfid_bench.datasets.manifest import FORMAT, VERSION

SAMPLE = Path(__file__).resolve().parents[2] / "semfid_bench" / "data" / "sample"


def _photos() -> list[np.ndarray]:
    return [read_rgb(p).astype(np.float32) / 255.0 for p in sorted(SAMPLE.glob("*.png"))]


def _crop(photo: np.ndarray, size: int, rng, margin: int = 0) -> tuple[int, int]:
    y = rng.integers(margin, photo.shape[0] - size - margin)
    return int(y), int(rng.integers(margin, photo.shape[1] - size - margin))


def make_pairs(
    folder: Path,
    count: int,
    *,
    size: int = 64,
    seed: int = 0,
    max_fraction: float = 0.6,
    noise: float = 0.12,
    shift: int = 0,
    splits: tuple[float, float] = (0.6, 0.2),
) -> Path:
    """Write ``count`` pairs (gt/, sr/, mask/ PNGs) and a manifest; return its path.

    Rows carry ``labels.fraction`` (the target), ``mask`` and a ``split``: the first
    ``splits[0]`` of the pairs train, the next ``splits[1]`` validate, the rest test.
    """
    rng = np.random.default_rng(seed)
    photos = _photos()
    scale = size / 96.0  # crops of 96 px photograph regions, resized to ``size``
    for sub in ("gt", "sr", "mask"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    n_train, n_val = round(count * splits[0]), round(count * splits[1])
    for index in range(count):
        a, b = rng.choice(len(photos), size=2, replace=False)
        y, x = _crop(photos[a], 96, rng, shift)
        gt = photos[a][y : y + 96, x : x + 96]
        yb, xb = _crop(photos[b], 96, rng)
        other = photos[b][yb : yb + 96, xb : xb + 96]
        fraction = rng.uniform(0.0, max_fraction)
        aspect = rng.uniform(0.5, 2.0)
        h = int(np.clip(round(np.sqrt(fraction * 96 * 96 * aspect)), 0, 96))
        w = int(np.clip(round(fraction * 96 * 96 / max(h, 1)), 0, 96))
        top, left = int(rng.integers(0, 96 - h + 1)), int(rng.integers(0, 96 - w + 1))
        dy, dx = (int(v) for v in rng.integers(-shift, shift + 1, size=2))
        sr = photos[a][y + dy : y + dy + 96, x + dx : x + dx + 96].copy()
        sr[top : top + h, left : left + w] = other[top : top + h, left : left + w]
        sr = np.clip(sr + rng.normal(0.0, rng.uniform(0.0, noise), sr.shape), 0.0, 1.0)
        mask = np.ones((96, 96), dtype=np.float32)
        mask[top : top + h, left : left + w] = 0.0
        name = f"p{index:03d}.png"
        out = round(96 * scale)
        for sub, array in (("gt", gt), ("sr", sr), ("mask", mask)):
            image = Image.fromarray((array * 255).round().astype(np.uint8))
            resample = Image.NEAREST if sub == "mask" else Image.BICUBIC
            image.resize((out, out), resample).save(folder / sub / name)
        split = "train" if index < n_train else "val" if index < n_train + n_val else "test"
        rows.append(
            {
                "id": f"p{index:03d}",
                "gt": f"gt/{name}",
                "sr": f"sr/{name}",
                "mask": f"mask/{name}",
                "labels": {"fraction": h * w / (96 * 96)},
                "split": split,
            }
        )
    manifest = folder / "pairs.jsonl"
    with open(manifest, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"format": FORMAT, "version": VERSION, "name": "synthetic"}) + "\n")
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return manifest
