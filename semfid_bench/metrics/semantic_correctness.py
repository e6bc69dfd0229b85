"""The correctness split in a semantic feature space: CLIP ViT patch tokens instead of
pixels, so a region counts as hallucinated when its *meaning* moved away from both the LR
and the GT (none of opensr-test, pyiqa or BasicSR has this).

For SR, GT and the LR upsampled to SR size (bilinear, antialiased, as the pixel version's
LR side), the vision transformer's last-layer patch tokens (after its final LayerNorm,
L2-normalised) are taken over the eval transform's centre crop. Per patch, the cosine
distances 1 − cos give d_ref (LR↔GT), d_im (SR↔GT) and d_om (SR↔LR), and
:func:`~semfid_bench.metrics.correctness.classify_distances` splits the patches as the
pixel version splits pixels (same formulas, threshold, softmin and norms).

Limits: a ViT-B/32 sees a 7×7 grid of 32-pixel patches of a 224-pixel centre crop — the
map is coarse and the image's margins outside the crop are not judged; a patch token mixes
context from the whole image through attention, so a class is not strictly local; and the
upsampled LR is itself an out-of-distribution input for CLIP, which moves d_ref and d_om.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from semfid_bench.datasets.manifest import Item
from semfid_bench.metrics.clip_model import DEFAULT_MODEL, DEFAULT_PRETRAINED, shared_clip_model
from semfid_bench.metrics.correctness import (
    CLASSES,
    Settings,
    classify_distances,
    scores_and_details,
)
from semfid_bench.metrics.lr_consistency import lr_scale
from semfid_bench.plugin_api.artefacts import Artefact, class_map_from
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference

MAP_LEGEND = (
    "Each CLIP patch of the eval transform's centre crop as improvement, omission or "
    "hallucination in meaning (uncoloured: below the threshold, not judged)."
)


def _grid(distance: torch.Tensor) -> torch.Tensor:
    side = round(distance.numel() ** 0.5)
    if side * side != distance.numel():
        raise ValueError(f"{distance.numel()} patch tokens do not form a square grid")
    return distance.reshape(side, side).double()


def _cosine_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 1.0 - (x * y).sum(dim=-1)


def patch_class_map(details: dict) -> list[Artefact]:
    """The stored patch-grid class map, for reports."""
    return [class_map_from(details, CLASSES, MAP_LEGEND)]


class SemanticCorrectness(Metric):
    """One of the three numbers over CLIP patches; the details carry all three and the
    patch-grid class map."""

    def __init__(self, which: str, settings: Settings, clip) -> None:
        self.index, self.settings, self.clip = CLASSES.index(which), settings, clip

    def reference(self, gt: torch.Tensor, items: Sequence[Item]) -> torch.Tensor:
        return self.clip.encode_patch_tokens(gt)

    def score_with_details(self, sr: torch.Tensor, reference: torch.Tensor, *, lr: torch.Tensor):
        scale = lr_scale(sr, lr)
        up = F.interpolate(lr.float(), scale_factor=scale, mode="bilinear", antialias=True)
        sr_tokens = self.clip.encode_patch_tokens(sr.float())
        lr_tokens = self.clip.encode_patch_tokens(up.clamp(0.0, 1.0))
        results = [
            classify_distances(
                _grid(_cosine_distance(low, gt)),
                _grid(_cosine_distance(high, gt)),
                _grid(_cosine_distance(high, low)),
                self.settings,
            )
            for high, low, gt in zip(
                sr_tokens, lr_tokens, broadcast_reference(reference, len(sr)), strict=True
            )
        ]
        return scores_and_details(results, self.index)

    def score(self, sr: torch.Tensor, reference: torch.Tensor, *, lr: torch.Tensor):
        return self.score_with_details(sr, reference, lr=lr)[0]


def _factory(which: str):
    def make(
        device=None,
        model: str = DEFAULT_MODEL,
        pretrained: str | None = DEFAULT_PRETRAINED,
        gradient_threshold: float | str = "auto75",
        im_score: float = 0.05,
        om_score: float = 0.05,
        ha_score: float = 0.05,
        temperature: float = 0.25,
        norm: str = "percent",
    ) -> SemanticCorrectness:
        settings = Settings(
            gradient_threshold=gradient_threshold, im_score=im_score, om_score=om_score,
            ha_score=ha_score, temperature=temperature, norm=norm,
        )  # fmt: skip
        clip = shared_clip_model(model, pretrained, str(device or "cpu"), f"semantic-{which}")
        return SemanticCorrectness(which, settings, clip)

    make.__name__ = f"make_semantic_{which}"
    make.artefacts = patch_class_map
    return make


make_semantic_improvement = _factory("improvement")
make_semantic_omission = _factory("omission")
make_semantic_hallucination = _factory("hallucination")
