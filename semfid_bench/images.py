"""Reading, writing and hashing images at the edges of the pipeline.

Inside the pipeline an image is a float32 RGB tensor in [0, 1], (3, H, W) or (B, 3, H, W).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:
    import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def decode_rgb(data: bytes, name: Path | str = "<bytes>") -> np.ndarray:
    """Encoded image bytes as an (H, W, 3) uint8 array; grey and RGBA become RGB."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.array(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read image {name}: {exc}") from exc


def read_rgb(path: Path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 array; grey and RGBA become RGB."""
    return decode_rgb(Path(path).read_bytes(), path)


def check_readable(path: Path) -> tuple[int, int]:
    """Open an image's header without decoding it; return (width, height)."""
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not a readable image ({exc})") from exc


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, H, W) float32 in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float().div_(255.0)


def load_image(path: Path) -> torch.Tensor:
    """An image file as a (3, H, W) float32 tensor in [0, 1]."""
    return to_tensor(read_rgb(path))


def quantize(image: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to 8-bit levels, as saving to PNG would."""
    return image.clamp(0.0, 1.0).mul(255.0).round_().div_(255.0)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor in [0, 1] → (H, W, 3) uint8 array."""
    return image.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def save_image(image: torch.Tensor, path: Path) -> None:
    """Save a (3, H, W) tensor in [0, 1] as an 8-bit image (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image)).save(path)
