"""Regenerate tests/fixtures/parity/regressor_thesis.json from the thesis code itself.

Runs ``CLIP_lpips_stages_cnn.forward`` (models/global_eval_models.py of
Haradai/Measuring-Semantic-Differences-in-the-Super-Resolution-Domain) with timm's
``resnet50_clip.openai`` built without downloading (``pretrained=False``), seeded weights
(tests/learned/thesis_parity.py, converted with timm's own ``checkpoint_filter_fn``) and
the reference's own timm eval transform on PIL images, in eval mode and in train mode (the
training loop's ``model.train()``: BatchNorm on batch statistics).

    git clone https://github.com/$REPOSITORY /work/refs/thesis   # REPOSITORY below
    git -C /work/refs/thesis checkout d81df44d84c550a90edec812c996b340e385e1b7
    python scripts/parity/regressor_thesis.py --reference /work/refs/thesis
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

import timm
import torch
from PIL import Image
from timm.models.byobnet import checkpoint_filter_fn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.learned.thesis_parity import head_weights, photo_pairs, rn50_clip  # noqa: E402

REPOSITORY = "Haradai/Measuring-Semantic-Differences-in-the-Super-Resolution-Domain"
OUT = ROOT / "tests" / "fixtures" / "parity" / "regressor_thesis.json"


def reference_class(path: Path):
    sys.modules.setdefault("icecream", types.SimpleNamespace(ic=print))  # unused import there
    sys.path.insert(0, str(path))
    from models.global_eval_models import CLIP_lpips_stages_cnn

    return CLIP_lpips_stages_cnn


def build(cls, depth: int):
    create = timm.create_model
    timm.create_model = lambda name, pretrained=False, **kw: create(name, pretrained=False, **kw)
    try:
        model = cls("resnet50_clip.openai", depth=depth, device="cpu", enc_ft=True)
    finally:
        timm.create_model = create
    state = {f"visual.{k}": v for k, v in rn50_clip().state_dict().items()}
    model.clip.load_state_dict(checkpoint_filter_fn(state, model.clip))
    for layer, stage in zip(model.w_layers, range(3 - depth, 4), strict=True):
        weight, bias = head_weights(layer.in_channels, stage)
        layer.weight.data.copy_(weight)
        layer.bias.data.copy_(bias)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=Path("/work/refs/thesis"))
    args = parser.parse_args()
    commit = subprocess.check_output(
        ["git", "-C", str(args.reference), "rev-parse", "HEAD"], text=True
    ).strip()
    cls = reference_class(args.reference)
    cases = []
    for depth, mode in ((1, "eval"), (2, "eval"), (3, "eval"), (3, "train")):
        model = build(cls, depth)
        model.train(mode == "train")
        pairs = photo_pairs()
        gt = torch.stack([model.processor(Image.fromarray(g)) for g, _ in pairs])
        sr = torch.stack([model.processor(Image.fromarray(s)) for _, s in pairs])
        with torch.no_grad():
            out = model(sr, gt)  # the reference's dataset gives (SR, HQ)
        cases.append({"depth": depth, "mode": mode, "output": [float(v) for v in out]})
        print(depth, mode, cases[-1]["output"])
    fixture = {
        "source": {
            "repository": REPOSITORY,
            "commit": commit,
            "function": "models/global_eval_models.py:CLIP_lpips_stages_cnn.forward "
            "(with its own timm eval transform, model.processor)",
            "timm_model": "resnet50_clip.openai (pretrained=False, seeded weights)",
            "timm": timm.__version__,
            "torch": torch.__version__,
        },
        "inputs": "tests/learned/thesis_parity.py (photo_pairs, rn50_clip, head_weights)",
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
