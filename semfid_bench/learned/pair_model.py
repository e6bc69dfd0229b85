"""What the learned models share: one backbone over GT and SR, squared feature differences.

Both images are brought to ``input_size``² (:meth:`PairModel.prepare`) and fed through one
shared backbone; the models work on the squared differences of the feature maps, as LPIPS
does. The choices, each a config field recorded in checkpoints:

- ``preprocess``: ``squash`` (ours: the whole image, bilinear with antialiasing) or ``crop``
  (the thesis code: timm's eval transform — PIL bicubic resize of the shortest side to
  ``floor(input_size / crop_pct)``, centre crop; on 8-bit images).
- ``taps``: ``stage`` (each stage's output) or ``block3`` (the thesis code's
  ``stages.{s}.2.act``: the third block of each stage).
- ``feature_norm``: ``unit`` (LPIPS's choice, our default: each feature vector scaled to
  unit length across channels, so every stage contributes on the same scale) or ``none``
  (the thesis code).
- ``finetune``: train the backbone too (the thesis text) or freeze it.
- ``backbone_bn``: ``eval`` (ours: BatchNorm statistics fixed; batches of a few pairs make
  them noise) or ``train`` (the thesis code: the whole model in train mode while training,
  so BatchNorm normalises with batch statistics and updates its running ones; GT and SR
  then go through the backbone as two separate batches, as there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semfid_bench.learned.backbones import BackboneConfig, StageBackbone
from semfid_bench.plugin_api.errors import SemfidError

FEATURE_NORMS = ("unit", "none")
PREPROCESS = ("squash", "crop")
TAPS = ("stage", "block3")
BACKBONE_BN = ("eval", "train")


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) → (B, C, size, size), bilinear with antialiasing (whole image kept)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True)


def resize_crop(images: torch.Tensor, size: int, crop_pct: float) -> torch.Tensor:
    """timm's eval transform on (B, 3, H, W) in [0, 1]: 8-bit PIL image, bicubic resize of
    the shortest side to ``floor(size / crop_pct)``, centre crop to ``size``²."""
    from PIL import Image
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    from semfid_bench.datasets.images import to_tensor, to_uint8

    scale = math.floor(size / crop_pct)
    out = []
    for image in images:
        pil = Image.fromarray(to_uint8(image))
        pil = TF.center_crop(TF.resize(pil, scale, InterpolationMode.BICUBIC), size)
        out.append(to_tensor(np.asarray(pil)))
    return torch.stack(out).to(images.device)


def check_choice(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise SemfidError(f"{name} must be one of {choices}, got {value!r}.")


@dataclass(frozen=True)
class PairConfig:
    """What both learned models share (fields described in the module docstring);
    ``recipe`` names the defaults they came from (``semfid`` or ``thesis``)."""

    backbone: BackboneConfig
    input_size: int = 224
    finetune: bool = False
    feature_norm: str = "unit"
    taps: str = "stage"
    preprocess: str = "squash"
    crop_pct: float = 1.0
    backbone_bn: str = "eval"
    recipe: str = "semfid"

    def __post_init__(self) -> None:
        if self.input_size < 32:
            raise SemfidError(
                f"input_size must be at least 32 (five halvings), got {self.input_size}."
            )
        check_choice("feature_norm", self.feature_norm, FEATURE_NORMS)
        check_choice("preprocess", self.preprocess, PREPROCESS)
        check_choice("taps", self.taps, TAPS)
        check_choice("backbone_bn", self.backbone_bn, BACKBONE_BN)


class PairModel(nn.Module):
    """Shared backbone handling: preprocessing, freezing and the squared differences."""

    def __init__(self, backbone: StageBackbone, config: PairConfig) -> None:
        super().__init__()
        self.backbone = backbone
        self.input_size = config.input_size
        self.finetune = config.finetune
        self.feature_norm = config.feature_norm
        self.block = 2 if config.taps == "block3" else None
        self.stem_pre_pool = getattr(config, "stem_tap", "output") == "pre-pool"
        self.preprocess = config.preprocess
        self.crop_pct = config.crop_pct
        self.backbone_bn = config.backbone_bn
        backbone.requires_grad_(config.finetune)
        backbone.eval()

    def train(self, mode: bool = True) -> PairModel:
        super().train(mode)
        if self.backbone_bn == "eval":
            self.backbone.eval()
        return self

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Images of any size → the model's ``input_size``² input (see ``preprocess``)."""
        if self.preprocess == "crop":
            return resize_crop(images, self.input_size, self.crop_pct)
        return resize(images, self.input_size)

    def _features(self, images: torch.Tensor) -> list[torch.Tensor]:
        if images.shape[-2:] != (self.input_size, self.input_size):
            if self.preprocess == "crop":
                raise SemfidError(
                    f"Inputs are {tuple(images.shape[-2:])}, the model takes "
                    f"{self.input_size}²: call prepare() first."
                )
            images = resize(images, self.input_size)
        return self.backbone(images, self.block, self.stem_pre_pool)

    def differences(self, gt: torch.Tensor, sr: torch.Tensor) -> list[torch.Tensor]:
        """Squared GT−SR differences of the five tapped feature maps (stem first)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.finetune):
            if self.backbone.training:  # batch statistics: one batch per side, as the thesis
                features = list(zip(self._features(gt), self._features(sr), strict=True))
            else:
                both = self._features(torch.cat([gt, sr]))
                features = [(f[: len(gt)], f[len(gt) :]) for f in both]
        if self.feature_norm == "unit":
            features = [(_unit(a), _unit(b)) for a, b in features]
        return [(a - b).pow(2) for a, b in features]


def _unit(features: torch.Tensor) -> torch.Tensor:
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
