"""The thesis recipes against the thesis code's own forward passes (golden fixtures).

tests/fixtures/parity/regressor_thesis.json holds the outputs of
``CLIP_lpips_stages_cnn.forward`` (scripts/parity/regressor_thesis.py regenerates it) on
seeded RN50 weights and skimage photographs; here semfid-bench's thesis-recipe regressor
gets the same weights and images, prepared by its own pipeline. clu_thesis.json does the
same for ``CLIP_lpips_Unet.forward`` (scripts/parity/clu_thesis.py).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import pytest
import torch

from semfid_bench.datasets.images import to_tensor
from semfid_bench.learned.backbones import backbone_config, clip_stages
from semfid_bench.learned.recipes import model_settings, resolve_recipe
from semfid_bench.learned.regressor import RegressorConfig, SemanticRegressor

from .thesis_parity import head_weights, photo_pairs, rn50_clip, seeded_state, thesis_decoder_key

CLU_DECODER_SEED = 141  # scripts/parity/clu_thesis.py

FIXTURE = Path(__file__).parents[1] / "fixtures" / "parity" / "regressor_thesis.json"
CASES = json.loads(FIXTURE.read_text())["cases"]


@functools.cache
def _rn50():
    return rn50_clip()


def _thesis_regressor(depth: int) -> SemanticRegressor:
    settings = resolve_recipe("regressor", "thesis", {"depth": depth})
    config = RegressorConfig(
        backbone=backbone_config("clip-rn50", None),
        recipe="thesis",
        **model_settings("regressor", settings),
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


CLU_FIXTURE = json.loads((FIXTURE.parent / "clu_thesis.json").read_text())


def _thesis_clu():
    from semfid_bench.learned.clu import CLUConfig, CLUNet

    config = CLUConfig(
        backbone=backbone_config("clip-rn50", None),
        recipe="thesis",
        **model_settings("clu", resolve_recipe("clu", "thesis", {})),
    )
    model = CLUNet(config, clip_stages(config.backbone, copy.deepcopy(_rn50())))
    reference_order = [  # the reference's decoder.{0..4} state order, mapped to ours
        (name, thesis_decoder_key(name)) for name in _reference_decoder_names(model)
    ]
    state = seeded_state([(ref, model.state_dict()[ours].shape) for ref, ours in reference_order],
                         CLU_DECODER_SEED)  # fmt: skip
    model.load_state_dict({ours: state[ref] for ref, ours in reference_order}, strict=False)
    return model


def _reference_decoder_names(model) -> list[str]:
    """``decoder.{i}.…`` names in the reference's order (level 0 = top … 4 = bottom)."""
    levels = [*(f"ups.{3 - i}" for i in range(4)), "bottom"]
    names = []
    for index, prefix in enumerate(levels):
        names += [
            f"{index}.{k[len(prefix) + 1 :]}"
            for k in model.state_dict()
            if k.startswith(prefix + ".")
        ]
    return names


@pytest.mark.parametrize(
    "case",
    [  # a full RN50 and the reference's wide decoder at 224 px: the train-mode case is slow
        pytest.param(c, id=c["mode"], marks=[pytest.mark.slow] if c["mode"] == "train" else [])
        for c in CLU_FIXTURE["cases"]
    ],
)
def test_thesis_clu_matches_reference_forward(case):
    assert CLU_FIXTURE["source"]["function"].startswith(
        "models/local_eval_models.py:CLIP_lpips_Unet"
    )
    model = _thesis_clu()
    model.train(case["mode"] == "train")
    pairs = photo_pairs()[: len(case["mean"])]
    gt = torch.cat([model.prepare(to_tensor(g)[None]) for g, _ in pairs])
    sr = torch.cat([model.prepare(to_tensor(s)[None]) for _, s in pairs])
    with torch.no_grad():
        maps = model(gt, sr)[:, 0]
    torch.testing.assert_close(
        maps.mean(dim=(1, 2)), torch.tensor(case["mean"]), rtol=1e-4, atol=1e-6
    )
    pooled = torch.nn.functional.avg_pool2d(maps[:, None], 16)[:, 0]
    torch.testing.assert_close(pooled, torch.tensor(case["pooled16"]), rtol=1e-4, atol=1e-5)
