"""The regressor's thesis recipe against the thesis code's own forward (golden fixture).

tests/fixtures/parity/regressor_thesis.json holds the outputs of
``CLIP_lpips_stages_cnn.forward`` (scripts/parity/regressor_thesis.py regenerates it) on
seeded RN50 weights and skimage photographs; here semfid-bench's thesis-recipe regressor
gets the same weights and images, prepared by its own pipeline.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import pytest
import torch

from semfid_bench.images import to_tensor
from semfid_bench.learned.backbones import backbone_config, clip_stages
from semfid_bench.learned.recipes import resolve_recipe
from semfid_bench.learned.regressor import RegressorConfig, SemanticRegressor

from .thesis_parity import head_weights, photo_pairs, rn50_clip

FIXTURE = Path(__file__).parents[1] / "fixtures" / "parity" / "regressor_thesis.json"
CASES = json.loads(FIXTURE.read_text())["cases"]


@functools.cache
def _rn50():
    return rn50_clip()


def _thesis_regressor(depth: int) -> SemanticRegressor:
    settings = resolve_recipe("regressor", "thesis", {"depth": depth})
    keys = ("input_size", "feature_norm", "taps", "preprocess", "backbone_bn", "finetune")
    config = RegressorConfig(
        backbone=backbone_config("clip-rn50", None),
        recipe="thesis",
        **{k: settings[k] for k in (*keys, "crop_pct", "depth", "activation", "head_init")},
    )
    model = SemanticRegressor(config, clip_stages(config.backbone, copy.deepcopy(_rn50())))
    for head, stage in zip(model.heads, range(3 - depth, 4), strict=True):
        weight, bias = head_weights(head.in_channels, stage)
        head.weight.data.copy_(weight)
        head.bias.data.copy_(bias)
    return model


def test_fixture_names_its_source():
    source = json.loads(FIXTURE.read_text())["source"]
    assert source["repository"].endswith(
        "Measuring-Semantic-Differences-in-the-Super-Resolution-Domain"
    )
    assert len(source["commit"]) == 40 and "CLIP_lpips_stages_cnn.forward" in source["function"]


def _marks(case: dict):
    """Depth 2 in eval mode adds nothing the others miss (a full RN50 forward each): slow."""
    slow = case["depth"] == 2 and case["mode"] == "eval"
    return pytest.param(
        case, marks=[pytest.mark.slow] if slow else [], id=f"d{case['depth']}-{case['mode']}"
    )


@pytest.mark.parametrize("case", [_marks(c) for c in CASES])
def test_thesis_recipe_matches_reference_forward(case):
    model = _thesis_regressor(case["depth"])
    model.train(case["mode"] == "train")
    pairs = photo_pairs()
    gt = torch.cat([model.prepare(to_tensor(g)[None]) for g, _ in pairs])
    sr = torch.cat([model.prepare(to_tensor(s)[None]) for _, s in pairs])
    with torch.no_grad():
        out = model(gt, sr)
    torch.testing.assert_close(out, torch.tensor(case["output"]), rtol=2e-4, atol=1e-7)
