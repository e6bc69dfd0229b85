"""Contact sheets: labelled images side by side, to look at what a degradation does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from semfid_bench.datasets.images import to_uint8

if TYPE_CHECKING:
    import torch

_LABEL_HEIGHT = 22
_GAP = 6
_BACKGROUND = (255, 255, 255)
_TEXT = (0, 0, 0)


def upscale_nearest(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(3, h, w) → (3, H, W) by pixel repetition, so LR pixels stay visible as blocks."""
    import torch.nn.functional as F

    return F.interpolate(image[None], size=size, mode="nearest")[0]


def contact_sheet(tiles: Sequence[tuple[str, torch.Tensor]]) -> Image.Image:
    """One row of (label, (3, H, W) image) tiles, each with its label above it."""
    arrays = [to_uint8(image) for _, image in tiles]
    width = sum(a.shape[1] for a in arrays) + _GAP * (len(arrays) + 1)
    height = max(a.shape[0] for a in arrays) + _LABEL_HEIGHT + 2 * _GAP
    sheet = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    x = _GAP
    for (label, _), array in zip(tiles, arrays, strict=True):
        draw.text((x, _GAP), label, fill=_TEXT, font=font)
        sheet.paste(Image.fromarray(np.ascontiguousarray(array)), (x, _GAP + _LABEL_HEIGHT))
        x += array.shape[1] + _GAP
    return sheet
