"""The semantic correctness split over CLIP patch tokens, on a tiny random-init open_clip
ViT (the real classes; 4×4 patches) and scikit-image photographs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from semfid_bench.metrics.correctness import CLASSES
from semfid_bench.metrics.semantic_correctness import make_semantic_hallucination
from tests.metrics.opensr_parity import cases

CASES = cases()


@pytest.fixture
def metric(tiny_clip):
    return make_semantic_hallucination(model=tiny_clip, pretrained=None)


def split(metric, sr, lr, hr) -> dict:
    reference = metric.reference(hr[None], [])
    _, (details,) = metric.score_with_details(sr[None], reference, lr=lr[None])
    return details


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "random"])
def test_upsampled_lr_is_omission_and_gt_is_improvement(metric, name):
    lr, _, hr = CASES[name]
    up = F.interpolate(lr[None], scale_factor=4, mode="bilinear", antialias=True)[0]
    details = split(metric, up, lr, hr)
    assert (details["improvement"], details["omission"], details["hallucination"]) == (0, 100, 0)
    details = split(metric, hr, lr, hr)
    assert (details["improvement"], details["omission"], details["hallucination"]) == (100, 0, 0)


def test_details_carry_the_patch_grid_and_the_score_is_hallucination(metric):
    lr, sr, hr = CASES["coffee-patch"]
    reference = metric.reference(hr[None], [])
    scores, (details,) = metric.score_with_details(sr[None], reference, lr=lr[None])
    assert float(scores[0]) == details["hallucination"]
    assert len(details["map"]) == 4 and details["map_stride"] == 1  # 32 px / 8 px patches
    assert sum(details["counts"].values()) == sum(
        cell >= 0 for row in details["map"] for cell in row
    )
    assert set(details) >= set(CLASSES)


def test_a_cnn_clip_is_refused_with_a_clear_error():
    from semfid_bench.metrics.clip_model import ClipModel
    from semfid_bench.plugin_api.errors import SemfidError

    clip = ClipModel("RN50", pretrained=None)
    with pytest.raises(SemfidError, match="a ViT model is needed"):
        clip.encode_patch_tokens(torch.zeros(1, 3, 32, 32))
