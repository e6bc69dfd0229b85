"""The ``regressor`` and ``clu`` metric plugins: trained checkpoints as ordinary metrics.

- ``regressor``: the regressor's output per pair; higher = more semantic change (it learns
  MOS as the fraction of "changed" votes, or 1 − a similarity pseudo-label).
- ``clu``: the mean of the CLU map (1 = content kept, 0 = changed), so higher = more
  faithful. With ``maps_dir`` each map is also saved as a heatmap PNG over the SR image,
  named ``<item id>-<first 12 hex digits of the SR image's SHA-256>.png`` (the id encoded by
  :func:`~semfid_bench.safe_paths.encode_part`, never read as a path): the metric sees
  the item but not which model or degradation made the SR image, and the hash keeps maps
  of different SR images apart (run with ``--save-images`` to match them to SR files).

Options (``--set regressor.checkpoint=PATH``): ``checkpoint`` (a path or a name in the
checkpoints folder), ``checkpoints_dir``, ``batch_size``; ``clu`` also ``maps_dir``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from semfid_bench.learned.checkpoints import load_checkpoint
from semfid_bench.learned.heatmap import save_heatmap
from semfid_bench.plugin_api.artefacts import Artefact, map_image_from
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference
from semfid_bench.safe_paths import path_inside


def _model(kind: str, checkpoint: str | None, checkpoints_dir: str | None, device):
    if not checkpoint:
        raise SemfidError(
            f"The {kind} metric needs a trained checkpoint.",
            hint=f"Train one with `semfid-bench train {kind}` and pass it with "
            f"--set {kind}.checkpoint=PATH_OR_NAME.",
        )
    model, record = load_checkpoint(checkpoint, kind, checkpoints_dir)
    return model.to(device or "cpu"), record


class _Learned(Metric):
    def __init__(self, model, record: dict[str, Any], batch_size: int) -> None:
        self.model = model
        self.record = record
        self.batch_size = max(1, int(batch_size))

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def _batched(self, gt: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        if gt.shape != sr.shape:
            raise ValueError(f"SR {tuple(sr.shape)} and GT {tuple(gt.shape)} differ in shape")
        device = self._device()
        outputs = [
            self.model(
                self.model.prepare(gt[i : i + self.batch_size].to(device)),
                self.model.prepare(sr[i : i + self.batch_size].to(device)),
            )
            for i in range(0, len(gt), self.batch_size)
        ]
        return torch.cat(outputs)


class RegressorMetric(_Learned):
    """Scores pairs with a trained regressor, in batches."""

    def score(self, sr: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return self._batched(broadcast_reference(reference, len(sr)), sr).float()


class CLUMetric(_Learned):
    """Mean of the CLU map per pair; optionally saves each map as a heatmap."""

    def __init__(self, model, record, batch_size: int, maps_dir: str | None = None) -> None:
        super().__init__(model, record, batch_size)
        self.maps_dir = Path(maps_dir) if maps_dir else None

    def reference(self, gt: torch.Tensor, items: Sequence[Any]) -> tuple[torch.Tensor, list[str]]:
        return gt, [str(item.id) for item in items]

    def maps(self, gt: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) maps at the images' own resolution."""
        maps = self._batched(gt, sr)
        return F.interpolate(maps, size=sr.shape[-2:], mode="bilinear", align_corners=False)

    def score(self, sr: torch.Tensor, reference) -> torch.Tensor:
        return self.score_with_details(sr, reference)[0]

    def score_with_details(self, sr: torch.Tensor, reference) -> tuple[torch.Tensor, list | None]:
        """Map means; with ``maps_dir``, each map's heatmap path as ``{"map": PATH}``."""
        gt, ids = broadcast_reference(reference, len(sr))
        maps = self.maps(gt, sr)
        details = None
        if self.maps_dir is not None:
            details = []
            for item_id, kept, image in zip(ids, maps, sr, strict=True):
                digest = hashlib.sha256(image.detach().cpu().numpy().tobytes()).hexdigest()
                path = path_inside(self.maps_dir, f"{item_id}-{digest[:12]}", suffix=".png")
                save_heatmap(path, kept[0], image)
                details.append({"map": str(path.resolve())})
        return maps.mean(dim=(1, 2, 3)).float(), details

    @staticmethod
    def artefacts(details: dict[str, Any]) -> list[Artefact]:
        """The saved heat map, if the run had ``maps_dir``."""
        if "map" not in details:
            return []
        legend = "CLU's map of semantic change over the SR image: blue kept, red changed."
        return [map_image_from(details, legend)]


def make_regressor(
    device=None,
    checkpoint: str | None = None,
    checkpoints_dir: str | None = None,
    batch_size: int = 8,
) -> RegressorMetric:
    model, record = _model("regressor", checkpoint, checkpoints_dir, device)
    return RegressorMetric(model, record, batch_size)


def make_clu(
    device=None,
    checkpoint: str | None = None,
    checkpoints_dir: str | None = None,
    batch_size: int = 8,
    maps_dir: str | None = None,
) -> CLUMetric:
    model, record = _model("clu", checkpoint, checkpoints_dir, device)
    return CLUMetric(model, record, batch_size, maps_dir)


make_clu.artefacts = CLUMetric.artefacts
