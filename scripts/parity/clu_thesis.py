"""Regenerate tests/fixtures/parity/clu_thesis.json from the thesis code itself.

Runs ``CLIP_lpips_Unet.forward`` (models/local_eval_models.py of the thesis repository,
the class CLU_training_sweep_example.py trains; ``lora_rank=None``) with timm's
``resnet50_clip.openai`` built without downloading, seeded backbone and decoder weights
(tests/learned/thesis_parity.py) and its own timm eval transform, in eval and train mode.

    python scripts/parity/clu_thesis.py --reference /work/refs/thesis   # see regressor_thesis.py
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
from tests.learned.thesis_parity import photo_pairs, rn50_clip, seeded_state  # noqa: E402

REPOSITORY = "Haradai/Measuring-Semantic-Differences-in-the-Super-Resolution-Domain"
OUT = ROOT / "tests" / "fixtures" / "parity" / "clu_thesis.json"
DECODER_SEED = 141
PAIRS = 2


def build(path: Path):
    sys.modules.setdefault("pytora", types.SimpleNamespace(apply_lora=None))  # LoRA unused
    # The file does not compile as committed (a stray "glo" line in a later class, line 624):
    # run its text up to the next class, which holds the imports and CLIP_lpips_Unet.
    text = (path / "models" / "local_eval_models.py").read_text(encoding="utf-8")
    namespace: dict = {"__name__": "local_eval_models"}
    exec(compile(text[: text.index("class CLIP_lpips_Unet_clsbckbn")], "local_eval_models", "exec"),
         namespace)  # fmt: skip
    CLIP_lpips_Unet = namespace["CLIP_lpips_Unet"]

    create = timm.create_model
    timm.create_model = lambda name, pretrained=False, **kw: create(name, pretrained=False, **kw)
    try:
        model = CLIP_lpips_Unet("resnet50_clip.openai", device="cpu", lora_rank=None)
    finally:
        timm.create_model = create
    state = {f"visual.{k}": v for k, v in rn50_clip().state_dict().items()}
    model.clip.load_state_dict(checkpoint_filter_fn(state, model.clip))
    shapes = [(k, v.shape) for k, v in model.decoder.state_dict().items()]
    model.decoder.load_state_dict(seeded_state(shapes, DECODER_SEED))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=Path("/work/refs/thesis"))
    args = parser.parse_args()
    commit = subprocess.check_output(
        ["git", "-C", str(args.reference), "rev-parse", "HEAD"], text=True
    ).strip()
    cases = []
    for mode in ("eval", "train"):
        model = build(args.reference)
        model.train(mode == "train")
        pairs = photo_pairs()[:PAIRS]
        gt = torch.stack([model.processor(Image.fromarray(g)) for g, _ in pairs])
        sr = torch.stack([model.processor(Image.fromarray(s)) for _, s in pairs])
        with torch.no_grad():
            maps = model(sr, gt)[:, 0]
        pooled = torch.nn.functional.avg_pool2d(maps[:, None], 16)[:, 0]  # 14×14 summary
        cases.append({"mode": mode, "mean": maps.mean(dim=(1, 2)).tolist(),
                      "pooled16": pooled.tolist()})  # fmt: skip
        print(mode, cases[-1]["mean"], float(maps.min()), float(maps.max()))
    fixture = {
        "source": {
            "repository": REPOSITORY,
            "commit": commit,
            "function": "models/local_eval_models.py:CLIP_lpips_Unet.forward (lora_rank=None; "
            "with its own timm eval transform, model.processor; the file's text up to the next "
            "class, as the whole file does not compile)",
            "timm_model": "resnet50_clip.openai (pretrained=False, seeded weights)",
            "timm": timm.__version__,
            "torch": torch.__version__,
        },
        "inputs": "tests/learned/thesis_parity.py (photo_pairs[:2], rn50_clip, seeded_state "
        f"seed {DECODER_SEED})",
        "cases": cases,
    }
    OUT.write_text(json.dumps(fixture) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
