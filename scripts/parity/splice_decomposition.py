"""Regenerate tests/fixtures/parity/splice_decomposition.json from SpLiCE's own code.

Runs ``splice.SPLICE.encode_image`` (decomposition, ADMM and sklearn solvers) and
``recompose_image`` of AI4LIFE-GROUP/SpLiCE with its published non-zero image mean for
open_clip ViT-B-32 laion2b_s34b_b79k (``data/means/open_clip_ViT-B-32_image.pt``, copied
to tests/fixtures/parity/) on seeded concept and image embeddings; the concept dictionary
is built as ``splice.load`` builds it (normalise, subtract the mean, normalise).

    git clone https://github.com/AI4LIFE-GROUP/SpLiCE /work/refs/SpLiCE
    git -C /work/refs/SpLiCE checkout 9a498102ce7c6701f4afe361ffaa86c39b47fa5f
    python scripts/parity/splice_decomposition.py --reference /work/refs/SpLiCE
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.metrics.splice_parity import CONCEPTS, IMAGES, L1, SEED, seeded_inputs  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "parity"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=Path("/work/refs/SpLiCE"))
    args = parser.parse_args()
    commit = subprocess.check_output(
        ["git", "-C", str(args.reference), "rev-parse", "HEAD"], text=True
    ).strip()
    sys.path.insert(0, str(args.reference))
    from splice.model import SPLICE

    mean = torch.load(FIXTURES / "splice_open_clip_ViT-B-32_image.pt", map_location="cpu")
    concepts, images = seeded_inputs(mean.float())
    # splice.load: the dictionary of normalised, centred, normalised concept embeddings
    dictionary = torch.nn.functional.normalize(concepts, dim=1)
    dictionary = torch.nn.functional.normalize(dictionary - dictionary.mean(dim=0), dim=1)
    out = {}
    for solver in ("admm", "skl"):
        torch.manual_seed(0)  # SpLiCE's ADMM starts from random iterates
        model = SPLICE(mean, dictionary, solver=solver, l1_penalty=L1, return_weights=True)
        if solver == "admm":
            model.admm.device = "cpu"  # hard-coded "cuda" there
        weights = model.encode_image(images).float()
        recon = model.recompose_image(weights)
        out[solver] = {
            "weights": [[[int(i), float(w[i])] for i in w.nonzero().flatten()] for w in weights],
            "reconstruction": recon.tolist(),
        }
        print(solver, [int((w > 0).sum()) for w in weights])
    fixture = {
        "source": {
            "repository": "AI4LIFE-GROUP/SpLiCE",
            "commit": commit,
            "function": "splice/model.py:SPLICE.encode_image (return_weights=True) and "
            "SPLICE.recompose_image; dictionary as splice/splice.py:load builds it",
            "image_mean": "data/means/open_clip_ViT-B-32_image.pt",
            "torch": torch.__version__,
        },
        "seed": SEED,
        "concepts": CONCEPTS,
        "images": IMAGES,
        "l1_penalty": L1,
        "input_checksum": [float(concepts.sum()), float(images.sum())],
        **out,
    }
    path = FIXTURES / "splice_decomposition.json"
    path.write_text(json.dumps(fixture) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
