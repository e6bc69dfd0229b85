"""SR networks loaded from published checkpoints through spandrel.

spandrel detects the architecture and its hyper-parameters from the state dict, so one
class serves every feed-forward model whose checkpoint it recognises (RRDBNet, SwinIR,
...). A subclass only names its published checkpoints; the weights helper finds the file
(local path, cache or download) and reads it without unpickling code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import SRModel, UpscaleContext
from semfid_bench.plugin_api.weights import WeightFile, fetch_weights, load_state_dict
from semfid_bench.sr_models.pixel_tiling import Tiling, tiling_from_options, upscale_guarded


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A checkpoint as its authors publish it and the network spandrel must find in it."""

    file: WeightFile
    architecture: str
    scale: int


class CheckpointSRModel(SRModel):
    """An SR network from a published (or local) checkpoint, with tiled inference.

    Options (``--set NAME.KEY=VALUE``): ``weights`` (local checkpoint path), ``variant``
    (which published checkpoint), ``tile`` (LR tile side, 0 = whole image), ``tile_overlap``,
    ``tile_batch``, ``half`` (fp16; default: on CUDA when the network supports it).
    Whole images are the default; tiles are the fallback when memory runs out, for that
    call only (later images run with the settings again), reported by :meth:`fallbacks`.
    """

    name: ClassVar[str]
    checkpoints: ClassVar[dict[str, PublishedCheckpoint]]
    default_variant: ClassVar[str] = "default"

    def __init__(
        self,
        scale: int = 4,
        device: torch.device | str | None = None,
        weights: str | None = None,
        variant: str | None = None,
        tile: int = 0,
        tile_overlap: int | None = None,
        tile_batch: int = 1,
        half: bool | None = None,
    ) -> None:
        checkpoint = self.checkpoint(variant)
        if int(scale) != checkpoint.scale:
            raise SemfidError(
                f"{self.name} ({variant or self.default_variant}) upscales "
                f"x{checkpoint.scale}, not x{scale}."
            )
        self.scale = checkpoint.scale
        self.device = torch.device(device or "cpu")
        self.tiling = tiling_from_options(self.name, tile, tile_overlap, tile_batch)
        path = self.weights_path(weights, variant)
        self.descriptor = self._load(path, checkpoint)
        self.descriptor.to(self.device).eval()
        if half is None:
            half = self.device.type == "cuda" and self.descriptor.supports_half
        if half:
            if not self.descriptor.supports_half:
                raise SemfidError(f"{self.name}: this network does not support fp16 (half).")
            self.descriptor.model.half()
        self.dtype = torch.float16 if half else torch.float32
        self._fallbacks: list[str] = []

    @classmethod
    def checkpoint(cls, variant: str | None = None) -> PublishedCheckpoint:
        variant = variant or cls.default_variant
        try:
            return cls.checkpoints[variant]
        except KeyError:
            raise SemfidError(
                f"{cls.name} has no variant {variant!r}; choose one of "
                f"{', '.join(sorted(cls.checkpoints))}."
            ) from None

    @classmethod
    def weights_path(cls, weights: str | None = None, variant: str | None = None) -> Path:
        """The checkpoint file: ``weights`` if given, else the cached or downloaded one."""
        return fetch_weights(
            cls.checkpoint(variant).file, weights, option=f"--set {cls.name}.weights=PATH"
        )

    @classmethod
    def weight_files(
        cls, weights: str | None = None, variant: str | None = None, **_: Any
    ) -> dict[str, Callable[[], Path]]:
        """The checkpoint a run with these options loads (see docs/plugins.md)."""
        return {cls.checkpoint(variant).file.filename: lambda: cls.weights_path(weights, variant)}

    def _load(self, path: Path, checkpoint: PublishedCheckpoint):
        from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

        state = load_state_dict(path, release=checkpoint.file)
        try:
            descriptor = ModelLoader().load_from_state_dict(state)
        except UnsupportedModelError:
            raise WeightsUnavailableError(
                f"{path} is not a checkpoint of any SR network spandrel knows; {self.name} "
                f"expects {checkpoint.file.filename} ({checkpoint.architecture}).",
                hint=f"Download it from {checkpoint.file.url}.",
            ) from None
        except Exception as exc:
            raise WeightsUnavailableError(
                f"Cannot build {checkpoint.architecture} from {path}: {type(exc).__name__}: {exc}",
                hint=f"The file may be damaged; download it again from {checkpoint.file.url}.",
            ) from exc
        found = descriptor.architecture.id
        if not isinstance(descriptor, ImageModelDescriptor) or found != checkpoint.architecture:
            raise WeightsUnavailableError(
                f"{path} holds a {found} network, but {self.name} expects "
                f"{checkpoint.architecture} ({checkpoint.file.filename}).",
                hint=f"Download the right file from {checkpoint.file.url}.",
            )
        if descriptor.scale != checkpoint.scale:
            raise WeightsUnavailableError(
                f"{path} holds a x{descriptor.scale} {found} network; {self.name} expects "
                f"x{checkpoint.scale} ({checkpoint.file.filename})."
            )
        return descriptor

    def _forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.descriptor(lr.to(self.device, self.dtype))

    def upscale(self, lr: torch.Tensor, context: UpscaleContext | None = None) -> torch.Tensor:
        """(B, 3, h, w) → (B, 3, h·scale, w·scale); this call retries with smaller tiles
        on out-of-memory."""
        self._fallbacks = []
        sr = upscale_guarded(self._forward, lr, self.scale, self.tiling, self._note_retry)
        return sr.float().clamp(0.0, 1.0).to(lr.device)

    def _note_retry(self, tiling: Tiling) -> None:
        self._fallbacks.append(
            f"out of memory; retried in {tiling.tile} px tiles (overlap {tiling.overlap})"
        )

    def fallbacks(self) -> list[str]:
        """The out-of-memory retries of the last :meth:`upscale` call (the last one is the
        tiling that produced its output)."""
        return list(self._fallbacks)

    def execution(self) -> dict[str, Any]:
        """The tiling in effect (the overlap as derived from the tile); the precision is
        reported from ``dtype``."""
        return {
            "tile": self.tiling.tile,
            "tile_overlap": self.tiling.overlap,
            "tile_batch": self.tiling.batch,
        }
