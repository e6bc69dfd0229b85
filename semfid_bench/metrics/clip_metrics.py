"""CLIP intra-modal similarity and caption-to-image (C2I) similarity.

- ``clip``: cosine between the CLIP image embeddings of GT and SR.
- ``c2i``: cosine between the CLIP text embedding of the GT's caption (the manifest's, else
  a captioner's) and the CLIP image embedding of the SR image. CLIP reads 77 tokens; a
  longer caption (a VLM's 128 new tokens often are) is cut there, as open_clip's tokenizer
  does. Each result's details record the caption's token count and whether it was cut.

GT-side embeddings are cached per GT content hash and model configuration
(:mod:`semfid_bench.plugin_api.feature_cache`), so every SR model, level and later run reuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from semfid_bench.datasets.manifest import Item
from semfid_bench.metrics.clip_model import (
    DEFAULT_MODEL,
    DEFAULT_PRETRAINED,
    ClipModel,
    shared_clip_model,
)
from semfid_bench.plugin_api.artefacts import Artefact, captions_from
from semfid_bench.plugin_api.feature_cache import FeatureCache, image_hash
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference
from semfid_bench.plugin_api.registry import PluginContext
from semfid_bench.vision_language.captions import DEFAULT_CAPTIONER, CaptionSource

# One cache object per CLIP configuration in a process, so its counters cover every metric
# (clip, c2i, splice-*) that embeds GT images with that model.
_image_caches: dict[str, FeatureCache] = {}


def gt_hashes(gt: torch.Tensor, items: Sequence[Item]) -> list[str]:
    """The runner's GT file hash where known, else a hash of the pixels."""
    return [item.gt_hash or image_hash(image) for item, image in zip(items, gt, strict=True)]


def clip_image_features(
    clip: ClipModel, gt: torch.Tensor, items: Sequence[Item]
) -> tuple[torch.Tensor, FeatureCache]:
    """GT image embeddings, from the feature cache where already computed."""
    cache = _image_caches.setdefault(
        repr(sorted(clip.config.items())), FeatureCache("clip-image", clip.config)
    )
    rows = cache.get_or_compute(gt_hashes(gt, items), lambda idx: list(clip.encode_images(gt[idx])))
    return torch.stack(rows), cache


def _clip(device, model: str, pretrained: str | None, option: str) -> ClipModel:
    return shared_clip_model(model, pretrained, str(device or "cpu"), option)


class ClipSimilarity(Metric):
    """Cosine similarity of CLIP image embeddings (the study's intra-modal baseline)."""

    def __init__(
        self,
        device: torch.device | None = None,
        model: str = DEFAULT_MODEL,
        pretrained: str | None = DEFAULT_PRETRAINED,
    ) -> None:
        self.clip = _clip(device, model, pretrained, "clip")

    def reference(self, gt: torch.Tensor, items: Sequence[Item]) -> torch.Tensor:
        return clip_image_features(self.clip, gt, items)[0]

    def score(self, sr: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        reference = broadcast_reference(reference, len(sr))
        return (self.clip.encode_images(sr) * reference).sum(dim=-1)


class CaptionToImage(Metric):
    """Cosine between the CLIP text embedding of the GT caption and the SR image's."""

    def __init__(
        self,
        device: torch.device | None = None,
        model: str = DEFAULT_MODEL,
        pretrained: str | None = DEFAULT_PRETRAINED,
        captioner: str = DEFAULT_CAPTIONER,
        captioner_options: dict[str, Any] | None = None,
        context: PluginContext | None = None,
    ) -> None:
        self.clip = _clip(device, model, pretrained, "c2i")
        self.captions = CaptionSource(captioner, captioner_options, device, context)

    def reference(self, gt: torch.Tensor, items: Sequence[Item]) -> dict[str, Any]:
        captions = self.captions.caption_gt(gt, items)
        tokens = self.clip.token_counts(captions)
        return {"captions": captions, "tokens": tokens, "text": self.clip.encode_texts(captions)}

    def score(self, sr: torch.Tensor, reference: dict[str, Any]) -> torch.Tensor:
        return self.score_with_details(sr, reference)[0]

    def execution(self) -> dict[str, str]:
        """The captioner's dtype and device type: part of every result's key."""
        return self.captions.execution()

    def score_with_details(
        self, sr: torch.Tensor, reference: dict[str, Any]
    ) -> tuple[torch.Tensor, list[dict]]:
        reference = broadcast_reference(reference, len(sr))
        scores = (self.clip.encode_images(sr) * reference["text"]).sum(dim=-1)
        context = self.clip.context_length
        details = [
            {"gt_caption": text, "caption_tokens": count, "caption_truncated": count > context}
            for text, count in zip(reference["captions"], reference["tokens"], strict=True)
        ]
        return scores, details

    @staticmethod
    def artefacts(details: dict[str, Any]) -> list[Artefact]:
        """The GT caption the SR image was compared with."""
        cut = details.get("caption_truncated") is True
        return [captions_from(details, "cut to CLIP's text length" if cut else "")]
