"""CLU (CLIP LPIPS UNet): a per-pixel map of semantic change from stage differences.

A UNet-style decoder goes from the deepest squared difference up to the stem's, each step
concatenating the upsampled decoder state with that level's difference; the output is a
sigmoid map at input resolution, 1 where content is kept and 0 where it changed (the
convention of the inpainting masks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from semfid_bench.learned.backbones import BackboneConfig, StageBackbone, build_backbone
from semfid_bench.learned.pair_model import PairModel


@dataclass(frozen=True)
class CLUConfig:
    """Architecture of a CLU model; stored in its checkpoint."""

    backbone: BackboneConfig
    decoder_width: int = 64
    input_size: int = 224
    finetune: bool = False
    feature_norm: str = "unit"


def _block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels_out, channels_out, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
    )


class CLUNet(PairModel):
    """GT and SR → a (B, 1, input_size, input_size) map: 1 = content kept, 0 = changed."""

    def __init__(self, config: CLUConfig, backbone: StageBackbone) -> None:
        super().__init__(backbone, config.input_size, config.finetune, config.feature_norm)
        self.config = config
        channels = backbone.channels()
        width = config.decoder_width
        self.bottom = _block(channels[-1], width)
        self.ups = nn.ModuleList(_block(c + width, width) for c in reversed(channels[:-1]))
        self.out = nn.Conv2d(width, 1, kernel_size=1)

    def logits(self, gt: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        diffs = self.differences(gt, sr)
        x = self.bottom(diffs[-1])
        for block, skip in zip(self.ups, reversed(diffs[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([skip, x], dim=1))
        size = (self.input_size, self.input_size)
        return F.interpolate(self.out(x), size=size, mode="bilinear", align_corners=False)

    def forward(self, gt: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(gt, sr))


def build_clu(config: CLUConfig, weights=None) -> CLUNet:
    """A CLU model with its backbone's pretrained weights (or ``weights``) loaded."""
    return CLUNet(config, build_backbone(config.backbone, weights))
