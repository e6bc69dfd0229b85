"""What the learned models share: one backbone over GT and SR, squared feature differences.

Both images are resized to ``input_size``² (the whole image, bilinear with antialiasing)
and fed through one shared backbone; the models work on the squared differences of the
feature maps, as LPIPS does. With ``feature_norm="unit"`` (LPIPS's choice, our default)
each feature vector is scaled to unit length across channels first, so every stage
contributes on the same scale whatever the backbone's activation magnitudes; ``"none"`` is
the thesis code's choice. The backbone is frozen unless ``finetune``; its BatchNorm
statistics stay fixed either way (batches of a few pairs would make them noise).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from semfid_bench.errors import SemfidError
from semfid_bench.learned.backbones import StageBackbone

FEATURE_NORMS = ("unit", "none")


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) → (B, C, size, size), bilinear with antialiasing (whole image kept)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True)


class PairModel(nn.Module):
    """Shared backbone handling: resizing, freezing and the squared feature differences."""

    def __init__(
        self, backbone: StageBackbone, input_size: int, finetune: bool, feature_norm: str
    ) -> None:
        super().__init__()
        if input_size < 32:
            raise SemfidError(f"input_size must be at least 32 (five halvings), got {input_size}.")
        if feature_norm not in FEATURE_NORMS:
            raise SemfidError(f"feature_norm must be one of {FEATURE_NORMS}, got {feature_norm!r}.")
        self.backbone = backbone
        self.input_size = input_size
        self.finetune = finetune
        self.feature_norm = feature_norm
        backbone.requires_grad_(finetune)
        backbone.eval()

    def train(self, mode: bool = True) -> PairModel:
        super().train(mode)
        self.backbone.eval()
        return self

    def differences(self, gt: torch.Tensor, sr: torch.Tensor) -> list[torch.Tensor]:
        """Squared GT−SR differences of the stem and the four stage outputs."""
        batch = torch.cat([resize(gt, self.input_size), resize(sr, self.input_size)])
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.finetune):
            features = self.backbone(batch)
        if self.feature_norm == "unit":
            features = [f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10) for f in features]
        return [(f[: len(gt)] - f[len(gt) :]).pow(2) for f in features]
