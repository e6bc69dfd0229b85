"""CLU maps as PNG heatmaps over the SR image, for people to look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Colour ramp for the amount of change (1 − map): blue = kept, yellow, red = changed.
_RAMP = np.array([[0.10, 0.25, 0.90], [1.00, 0.85, 0.10], [0.90, 0.05, 0.05]])


def heatmap_rgb(kept: torch.Tensor, image: torch.Tensor, opacity: float = 0.6) -> np.ndarray:
    """(H, W) map (1 = kept, 0 = changed) over a (3, H, W) image → (H, W, 3) uint8.

    The image is shown in grey under the colours, so the map can be read against it.
    """
    change = (1.0 - kept.detach().float().cpu().clamp(0, 1)).numpy()
    position = change * (len(_RAMP) - 1)
    low = np.floor(position).clip(0, len(_RAMP) - 2).astype(int)
    t = (position - low)[..., None]
    colours = _RAMP[low] * (1 - t) + _RAMP[low + 1] * t
    grey = image.detach().float().cpu().clamp(0, 1).mean(0).numpy()[..., None]
    blended = opacity * colours + (1 - opacity) * grey
    return (blended * 255).round().clip(0, 255).astype(np.uint8)


def save_heatmap(path: Path, kept: torch.Tensor, image: torch.Tensor) -> Path:
    """Write :func:`heatmap_rgb` as a PNG; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(heatmap_rgb(kept, image)).save(path)
    return path
