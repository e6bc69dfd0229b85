"""CLU (CLIP LPIPS UNet): a per-pixel map of semantic change from stage differences.

A UNet-style decoder goes from the deepest squared difference up to the stem's, each step
concatenating that level's difference with the upsampled decoder state; the output is a
map at input resolution, 1 where content is kept and 0 where it changed (the convention of
the inpainting masks). Two decoders:

- ``semfid`` (ours): ``decoder_width`` channels throughout, no BatchNorm, sigmoid output,
  trained with BCE on the masks.
- ``thesis`` (the thesis code's ``CLIP_lpips_Unet``, ``models/local_eval_models.py``): each
  level as wide as its feature map, conv–BatchNorm–ReLU pairs, Kaiming-normal (fan-out)
  initialisation, ×2 bilinear upsampling with aligned corners, a 1-channel conv + ReLU at
  the top, then a sigmoid — so its output never drops below 0.5 — trained with MSE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from semfid_bench.learned.backbones import StageBackbone, build_backbone
from semfid_bench.learned.pair_model import PairConfig, PairModel, check_choice

DECODERS = ("semfid", "thesis")
STEM_TAPS = ("output", "pre-pool")
LOSSES = ("bce", "mse")


@dataclass(frozen=True)
class CLUConfig(PairConfig):
    """Architecture of a CLU model; stored in its checkpoint."""

    decoder_width: int = 64
    decoder: str = "semfid"
    stem_tap: str = "output"
    loss: str = "bce"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("decoder", self.decoder, DECODERS)
        check_choice("stem_tap", self.stem_tap, STEM_TAPS)
        check_choice("loss", self.loss, LOSSES)


def _block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels_out, channels_out, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
    )


def _thesis_block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, kernel_size=3, padding="same"),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
        nn.Conv2d(channels_out, channels_out, kernel_size=3, padding="same"),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
    )


def _thesis_top(channels_in: int, width: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, width, kernel_size=3, padding="same"),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, 1, kernel_size=1, padding="same"),
        nn.ReLU(),
    )


class CLUNet(PairModel):
    """GT and SR → a (B, 1, input_size, input_size) map: 1 = content kept, 0 = changed."""

    def __init__(self, config: CLUConfig, backbone: StageBackbone) -> None:
        super().__init__(backbone, config)
        self.config = config
        channels = backbone.channels()
        if config.decoder == "thesis":
            c = channels
            self.bottom = _thesis_block(c[4], c[4])
            self.ups = nn.ModuleList(
                [_thesis_block(c[3] + c[4], c[3]), _thesis_block(c[2] + c[3], c[2]),
                 _thesis_block(c[1] + c[2], c[1]), _thesis_top(c[0] + c[1], c[0])]
            )  # fmt: skip
            self.out = nn.Identity()
            for m in [*self.bottom.modules(), *self.ups.modules()]:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
            return
        width = config.decoder_width
        self.bottom = _block(channels[-1], width)
        self.ups = nn.ModuleList(_block(c + width, width) for c in reversed(channels[:-1]))
        self.out = nn.Conv2d(width, 1, kernel_size=1)

    def logits(self, gt: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        """The map before the final sigmoid."""
        diffs = self.differences(gt, sr)
        thesis = self.config.decoder == "thesis"
        x = self.bottom(diffs[-1])
        for block, skip in zip(self.ups, reversed(diffs[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=thesis)
            x = block(torch.cat([skip, x], dim=1))
        size = (self.input_size, self.input_size)
        return F.interpolate(self.out(x), size=size, mode="bilinear", align_corners=thesis)

    def forward(self, gt: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(gt, sr))


def build_clu(config: CLUConfig, weights=None) -> CLUNet:
    """A CLU model with its backbone's pretrained weights (or ``weights``) loaded."""
    return CLUNet(config, build_backbone(config.backbone, weights))
