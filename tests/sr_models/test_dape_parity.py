"""DAPE (RAM's Swin encoder and tagging head, with SeeSR's LoRA merged) against the authors'
own modules (golden fixture from cswry/SeeSR run by scripts/parity/dape_reference.py on
seeded tiny weights and LoRA factors)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from semfid_bench.vision_language.dape import DAPETagger
from semfid_bench.vision_language.ram import RAM, RAMConfig
from semfid_bench.vision_language.ram_weights import load_ram_weights

from .parity import load_parity, part

#: float32 on CPU, the same weights: only summation order (and timm's Swin vs the
#: authors' Microsoft Swin) differs
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture(scope="module")
def reference():
    return load_parity("dape_ram_lora")


def _thresholds(tensors) -> torch.Tensor:
    """Per-tag thresholds halfway between the two middle scores, so that some tags are
    found and some not, none of them on the edge."""
    scores = torch.sigmoid(tensors["output.tag_logits"])
    ordered = scores.flatten().sort().values
    middle = ordered.numel() // 2
    return ((ordered[middle - 1] + ordered[middle]) / 2).expand(scores.shape[-1]).clone()


def _tagger(meta, ram, dape, thresholds) -> DAPETagger:
    config = RAMConfig.from_dict(meta["ram_config"])
    model = RAM(config)
    load_ram_weights(model, ram, dape, sources=(Path("ram.pth"), Path("DAPE.pth")))
    return DAPETagger(model, [f"tag{i}" for i in range(config.num_tags)], thresholds)


def test_image_embeddings_and_tag_logits_match_the_authors(reference):
    meta, tensors = reference
    ram, dape = part(tensors, "weights.ram"), part(tensors, "weights.dape")
    tagger = _tagger(meta, ram, dape, _thresholds(tensors))
    tags, embeds = tagger(tensors["input.lr"])
    torch.testing.assert_close(embeds, tensors["output.image_embeds"], **TOLERANCE)
    with torch.no_grad():
        logits = tagger.model.tag_logits(embeds)
    torch.testing.assert_close(logits, tensors["output.tag_logits"], **TOLERANCE)
    hits = torch.sigmoid(tensors["output.tag_logits"]) > tagger.thresholds
    assert 0 < hits.sum() < hits.numel()
    assert tags == [", ".join(f"tag{i}" for i in row.nonzero().flatten().tolist()) for row in hits]


def test_the_fixture_sees_the_lora_factors(reference):
    """Without the LoRA factors of the image encoder or of the tagging head (the latter tied
    to the tag encoder's), the outputs move well past the tolerance."""
    meta, tensors = reference
    ram, dape = part(tensors, "weights.ram"), part(tensors, "weights.dape")
    for dropped in ("visual_encoder.layers.1", "tag_encoder.", "tagging_head."):
        kept = {k: v for k, v in dape.items() if not k.startswith(dropped)}
        tagger = _tagger(meta, ram, kept, _thresholds(tensors))
        embeds = tagger(tensors["input.lr"])[1]
        with torch.no_grad():
            logits = tagger.model.tag_logits(embeds)
        if dropped.startswith("visual"):
            moved = embeds - tensors["output.image_embeds"]
        else:
            moved = logits - tensors["output.tag_logits"]
        assert moved.abs().amax() > 100 * TOLERANCE["atol"], dropped
