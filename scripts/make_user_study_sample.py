"""Build the illustrative user-study sample in semfid_bench/data/user_study_sample/.

GT crops come from the bundled sample photographs; SR images from the built-in bicubic
degradation and interpolation upscalers (with optional Gaussian noise on the LR, "level"
scaling its strength), and a few with an object region replaced or recoloured to mimic a
semantic change. The MOS values are written by hand below: they are illustrative, not
ratings collected from people. Run from the repository root:
``PYTHONPATH=. python scripts/make_user_study_sample.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image

from semfid_bench.datasets.images import load_image, quantize, save_image
from semfid_bench.datasets.manifest import load_manifest, write_manifest
from semfid_bench.degradations.bicubic import BicubicDownscale
from semfid_bench.sr_models.interpolation import InterpolationUpscaler

ROOT = Path(__file__).resolve().parent.parent / "semfid_bench" / "data"
OUT = ROOT / "user_study_sample"
SIZE = 120
CROPS = {  # (left, top) of a 240x240 box in the 384-px sample photograph
    "astronaut": (72, 0),
    "chelsea": (80, 4),
    "coffee": (72, 8),
    "rocket": (72, 8),
}
NOISE_SIGMA = 16 / 255  # Gaussian noise on the LR at level 1.0
SPLIT = {"astronaut": "train", "chelsea": "train", "coffee": "train", "rocket": "test"}
# Hand-made MOS: the fraction of imagined raters answering "yes, the meaning changed".
MOS = {
    ("bicubic", "bicubic", 1.0): [0.10, 0.05, 0.15, 0.10],
    ("nearest", "bicubic", 1.0): [0.20, 0.25, 0.15, 0.20],
    ("bicubic", "bicubic-noise", 0.5): [0.15, 0.10, 0.20, 0.15],
    ("bicubic", "bicubic-noise", 1.0): [0.30, 0.20, 0.35, 0.25],
    ("nearest", "bicubic-noise", 0.5): [0.25, 0.30, 0.25, 0.30],
    ("nearest", "bicubic-noise", 1.0): [0.40, 0.35, 0.45, 0.35],
    ("object-edit", "bicubic", 1.0): [0.85, 0.90, 0.60, 0.55],
}


def gt_crop(name: str) -> torch.Tensor:
    left, top = CROPS[name]
    with Image.open(ROOT / "sample" / f"{name}.png") as photo:
        box = photo.convert("RGB").crop((left, top, left + 240, top + 240))
        small = box.resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    path = OUT / "gt" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    small.save(path)
    return load_image(path)


def edit(name: str, gt: torch.Tensor, donor: torch.Tensor) -> torch.Tensor:
    """A semantic change: the central region replaced by another photo's (astronaut,
    chelsea) or recoloured by swapping colour channels (coffee, rocket)."""
    edited = gt.clone()
    box = (slice(None), slice(30, 90), slice(30, 90))
    edited[box] = donor[box] if name in ("astronaut", "chelsea") else gt[box][[2, 0, 1]]
    return edited


def make_sr(hr: torch.Tensor, model: str, level: float, seed: int) -> torch.Tensor:
    lr = BicubicDownscale(scale=4).degrade(hr)
    if level:
        generator = torch.Generator().manual_seed(seed)
        lr = lr + NOISE_SIGMA * level * torch.randn(lr.shape, generator=generator)
    lr = quantize(lr)
    return quantize(InterpolationUpscaler(scale=4, mode=model).upscale(lr[None])[0])


def main() -> None:
    names = list(CROPS)
    gts = {name: gt_crop(name) for name in names}
    rows = []
    for (model, degradation, level), values in MOS.items():
        for index, name in enumerate(names):
            hr = gts[name]
            upscaler = model
            if model == "object-edit":
                hr, upscaler = edit(name, hr, gts[names[(index + 1) % 4]]), "bicubic"
            noise = level if degradation == "bicubic-noise" else 0.0
            sr = make_sr(hr, upscaler, noise, seed=index)
            item_id = f"{name}/{model}/{degradation}@{level:g}"
            path = Path("sr") / f"{name}_{model}_{degradation}_{level:g}.png"
            save_image(sr, OUT / path)
            rows.append(
                {
                    "id": item_id,
                    "gt": f"gt/{name}.png",
                    "sr": path.as_posix(),
                    "model": model,
                    "degradation": degradation,
                    "level": level,
                    "mos": values[index],
                    "split": SPLIT[name],
                }
            )
    write_manifest(OUT / "manifest.jsonl", "user-study-sample", rows)
    print(json.dumps({"items": len(load_manifest(OUT / "manifest.jsonl"))}))


if __name__ == "__main__":
    main()
