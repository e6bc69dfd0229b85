"""LPIPS v0.1 (Zhang et al. 2018) with the AlexNet backbone, batched, no gradients.

The same computation as the ``lpips`` package and pyiqa's ``lpips``: inputs scaled to
[-1, 1] then shifted/scaled per channel, five AlexNet ReLU outputs, each unit-normalised
over channels, squared differences weighted by the learned 1×1 linear layers, spatially
averaged and summed. Weights: torchvision's ImageNet AlexNet (``alexnet-owt-7be5be79``)
and LPIPS's linear layers ``v0.1/alex.pth`` (also shipped inside the ``lpips`` package,
which is used when installed; pyiqa hosts the same file as ``LPIPS_v0.1_alex-df73285e``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference
from semfid_bench.plugin_api.weights import WeightFile, fetch_weights, load_state_dict

ALEXNET = WeightFile(
    "alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
)
LINEAR = WeightFile(
    "lpips-v0.1-alex.pth",
    "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
    "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
)
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))
CHANNELS = (64, 192, 384, 256, 256)


def packaged_linear_weights() -> Path | None:
    """``lpips/weights/v0.1/alex.pth`` of the installed ``lpips`` package, if any."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / "alex.pth"
    return path if path.is_file() else None


class LPIPSNet(nn.Module):
    """AlexNet features + LPIPS linear heads; ``forward(sr, gt)`` on [0, 1] images → (B,)."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import alexnet

        self.features = alexnet(weights=None).features
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    def taps(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The five unit-normalised AlexNet activations LPIPS compares."""
        x = ((2.0 * images - 1.0) - self.shift) / self.scale
        taps = []
        for start, stop in _SLICES:
            for layer in self.features[start:stop]:
                x = layer(x)
            taps.append(x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))
        return tuple(taps)

    def forward(self, sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        return self.distance(self.taps(sr), self.taps(gt))

    def distance(
        self, sr_taps: Sequence[torch.Tensor], gt_taps: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """(B,) LPIPS from both sides' :meth:`taps` (GT taps of one image broadcast)."""
        total = sr_taps[0].new_zeros(sr_taps[0].shape[0])
        for lin, a, b in zip(self.lins, sr_taps, gt_taps, strict=True):
            total = total + lin((a - b).pow(2)).mean(dim=(1, 2, 3))
        return total

    def load_lpips_linear(self, state: dict[str, torch.Tensor]) -> None:
        """Load an ``lpips``-format linear-layer state (``lin{k}.model.1.weight``)."""
        for k, lin in enumerate(self.lins):
            lin.weight.data.copy_(state[f"lin{k}.model.1.weight"])


def build_lpips(alexnet_weights: str | None = None, linear_weights: str | None = None) -> LPIPSNet:
    """LPIPSNet with the published weights (local paths override cache and download)."""
    net = LPIPSNet()
    backbone = fetch_weights(ALEXNET, alexnet_weights, option="--set lpips.alexnet_weights=PATH")
    features = {
        key.removeprefix("features."): value
        for key, value in load_state_dict(backbone).items()
        if key.startswith("features.")
    }
    net.features.load_state_dict(features)
    linear = linear_weights or packaged_linear_weights()
    net.load_lpips_linear(
        load_state_dict(fetch_weights(LINEAR, linear, option="--set lpips.linear_weights=PATH"))
    )
    return net.eval()


class LPIPSMetric(Metric):
    """LPIPS distance, lower is better; the GT side is the GT's AlexNet taps, computed once
    per item and reused for every SR image of it."""

    def __init__(
        self,
        device: torch.device | None = None,
        alexnet_weights: str | None = None,
        linear_weights: str | None = None,
        batch_size: int = 16,
    ) -> None:
        self.device = torch.device(device or "cpu")
        self.alexnet_weights = alexnet_weights
        self.linear_weights = linear_weights
        self.batch_size = int(batch_size)
        self._net: LPIPSNet | None = None

    @property
    def net(self) -> LPIPSNet:
        if self._net is None:
            self._net = build_lpips(self.alexnet_weights, self.linear_weights).to(self.device)
        return self._net

    @torch.inference_mode()
    def reference(self, gt: torch.Tensor, items: Sequence[Any]) -> dict[str, Any]:
        """The GT size and taps (in chunks of ``batch_size`` images)."""
        chunks = [self.net.taps(part.to(self.device)) for part in gt.split(self.batch_size)]
        taps = tuple(torch.cat(layer) for layer in zip(*chunks, strict=True))
        return {"size": tuple(gt.shape[-2:]), "taps": taps}

    @torch.inference_mode()
    def score(self, sr: torch.Tensor, reference: dict[str, Any]) -> torch.Tensor:
        if tuple(sr.shape[-2:]) != reference["size"]:
            raise ValueError(f"SR {tuple(sr.shape)} and GT {reference['size']} differ in size")
        gt_taps = broadcast_reference(reference["taps"], len(sr))
        out = []
        for start in range(0, len(sr), self.batch_size):
            part = slice(start, start + self.batch_size)
            sr_taps = self.net.taps(sr[part].to(self.device))
            out.append(self.net.distance(sr_taps, [tap[part] for tap in gt_taps]))
        return torch.cat(out).float().cpu()
