"""The semantic-fidelity regressor (the thesis's CLIP-LPIPS regressor).

Per used stage: squared GT−SR feature difference → 1×1 convolution to one channel →
spatial mean; the stage values are averaged and passed through ReLU (the reference) or a
sigmoid (bounded to [0, 1]). Higher = more semantic change. ``depth`` d uses the last
d + 1 stages, as the reference code does (``range(3 - depth, 4)``; the thesis's Table 1
speaks of 2 to 4 stages for depth 1–3). Which feature of a stage is read, how images are
prepared and how heads start are config fields (:mod:`semfid_bench.learned.pair_model`,
``head_init``: ``mean`` = 1/C weights, ours; ``default`` = PyTorch's, the thesis code's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from semfid_bench.learned.backbones import StageBackbone, build_backbone
from semfid_bench.learned.pair_model import PairConfig, PairModel, check_choice
from semfid_bench.plugin_api.errors import SemfidError

ACTIVATIONS = ("relu", "sigmoid")
HEAD_INITS = ("mean", "default")


@dataclass(frozen=True)
class RegressorConfig(PairConfig):
    """Architecture of a regressor; stored in its checkpoint."""

    depth: int = 2
    activation: str = "relu"
    head_init: str = "mean"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.depth <= 3:
            raise SemfidError(f"Regressor depth must be 1, 2 or 3, got {self.depth}.")
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("head_init", self.head_init, HEAD_INITS)


class SemanticRegressor(PairModel):
    """GT and SR → one semantic-change score per pair, shape (B,)."""

    def __init__(self, config: RegressorConfig, backbone: StageBackbone) -> None:
        super().__init__(backbone, config)
        self.config = config
        channels = backbone.channels()
        self.used = list(range(5 - (config.depth + 1), 5))
        self.heads = nn.ModuleList(nn.Conv2d(channels[i], 1, kernel_size=1) for i in self.used)
        if config.head_init == "mean":  # else PyTorch's default, as the thesis code
            for head in self.heads:
                # Start as the plain channel mean of the squared differences (positive, like
                # an LPIPS with unit weights), so the ReLU output is alive from the first step.
                nn.init.constant_(head.weight, 1.0 / head.in_channels)
                nn.init.zeros_(head.bias)

    def forward(self, gt: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        diffs = self.differences(gt, sr)
        pairs = zip(self.heads, self.used, strict=True)
        stages = [head(diffs[i]).mean(dim=(1, 2, 3)) for head, i in pairs]
        score = torch.stack(stages).mean(dim=0)
        return torch.relu(score) if self.config.activation == "relu" else torch.sigmoid(score)


def build_regressor(config: RegressorConfig, weights=None) -> SemanticRegressor:
    """A regressor with its backbone's pretrained weights (or ``weights``) loaded."""
    return SemanticRegressor(config, build_backbone(config.backbone, weights))
