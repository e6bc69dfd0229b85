"""The base of randomised degradation models: seeded, level-scaled and traceable.

A model draws every random number from a :class:`numpy.random.Generator` built from the
``seed`` argument (never from global state), so the output depends only on (image, level,
seed). :meth:`SampledDegradation.trace` also returns the steps applied, with their sampled
parameters, so a user can see what happened to an image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from semfid_bench.degradations.bicubic import lr_size
from semfid_bench.plugin_api.interfaces import Degradation


@dataclass(frozen=True)
class Step:
    """One applied operation and its sampled parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        def show(value: Any) -> str:
            return f"{value:.3g}" if isinstance(value, float) else str(value)

        args = ", ".join(f"{key}={show(value)}" for key, value in self.params.items())
        return f"{self.name}({args})"


def quality_at(level: float, published_quality: float) -> int:
    """JPEG quality at ``level``: the published draw at 1, 100 (no JPEG) at 0, linear between."""
    return int(np.floor(100.0 - level * (100.0 - published_quality) + 0.5))


class SampledDegradation(Degradation):
    """A random degradation model whose strength is scaled by ``level`` in [0, 1]."""

    def __init__(self, scale: int = 4, device: torch.device | None = None) -> None:
        self.scale = int(scale)

    def degrade(self, hr: torch.Tensor, *, level: float, seed: int) -> torch.Tensor:
        return self.trace(hr, level=level, seed=seed)[0]

    def trace(
        self, hr: torch.Tensor, *, level: float, seed: int
    ) -> tuple[torch.Tensor, list[Step]]:
        """The LR image for (3, H, W) ``hr`` and the list of steps that made it."""
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"degradation level {level} is outside [0, 1]")
        size = lr_size(hr, self.scale)
        image = np.ascontiguousarray(hr.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy())
        steps: list[Step] = []
        lr = self.pipeline(image, size, float(level), np.random.default_rng(seed), steps)
        if lr.shape[:2] != size:
            raise RuntimeError(f"{type(self).__name__} produced {lr.shape[:2]}, expected {size}")
        tensor = torch.from_numpy(np.ascontiguousarray(np.clip(lr, 0.0, 1.0).transpose(2, 0, 1)))
        return tensor.to(hr.device), steps

    def pipeline(
        self,
        image: np.ndarray,
        size: tuple[int, int],
        level: float,
        rng: np.random.Generator,
        steps: list[Step],
    ) -> np.ndarray:
        """Degrade the (H, W, 3) float32 ``image`` to ``size``, appending applied steps."""
        raise NotImplementedError
