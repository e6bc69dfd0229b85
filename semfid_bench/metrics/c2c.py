"""Caption-to-caption similarity (C2C): caption GT and SR with a vision-language model,
embed both captions with all-MiniLM-L6-v2, score their cosine.

GT captions come from the manifest when it has them, else from the captioner; GT and SR
captions are cached per image content and captioner configuration, GT caption embeddings
are computed once per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from semfid_bench.datasets.manifest import Item
from semfid_bench.metrics.sentence_embedding import shared_sentence_encoder
from semfid_bench.plugin_api.artefacts import Artefact, captions_from
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference
from semfid_bench.plugin_api.registry import PluginContext
from semfid_bench.vision_language.captions import DEFAULT_CAPTIONER, CaptionSource


class CaptionToCaption(Metric):
    """Cosine of the sentence embeddings of the GT's and the SR's captions."""

    def __init__(
        self,
        device: torch.device | None = None,
        captioner: str = DEFAULT_CAPTIONER,
        captioner_options: dict[str, Any] | None = None,
        sentence_model: str | None = None,
        context: PluginContext | None = None,
    ) -> None:
        self.captions = CaptionSource(captioner, captioner_options, device, context)
        self.encoder = shared_sentence_encoder(sentence_model, str(device or "cpu"))

    def reference(self, gt: torch.Tensor, items: Sequence[Item]) -> dict[str, Any]:
        captions = self.captions.caption_gt(gt, items)
        return {"captions": captions, "embeddings": self.encoder.encode(captions)}

    def score(self, sr: torch.Tensor, reference: dict[str, Any]) -> torch.Tensor:
        return self.score_with_details(sr, reference)[0]

    def execution(self) -> dict[str, str]:
        """The captioner's dtype and device type: part of every result's key."""
        return self.captions.execution()

    def score_with_details(
        self, sr: torch.Tensor, reference: dict[str, Any]
    ) -> tuple[torch.Tensor, list[dict]]:
        reference = broadcast_reference(reference, len(sr))
        sr_captions = self.captions.caption_sr(sr)
        scores = (self.encoder.encode(sr_captions) * reference["embeddings"]).sum(dim=-1)
        details = [
            {"gt_caption": gt, "sr_caption": text}
            for gt, text in zip(reference["captions"], sr_captions, strict=True)
        ]
        return scores, details

    @staticmethod
    def artefacts(details: dict[str, Any]) -> list[Artefact]:
        """The GT and SR captions that were compared."""
        return [captions_from(details)]
