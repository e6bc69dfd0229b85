"""Reading, writing and hashing images at the edges of the pipeline.

Inside the pipeline an image is a float32 RGB tensor in [0, 1], (3, H, W) or (B, 3, H, W).

Every image file is decoded here, by :func:`decode_image`, with one policy:

- the format comes from the content, not the file name (a PNG named ``.jpg`` reads fine);
- 8-bit RGB, grey and bilevel images are read as they are (grey repeated on three channels);
- 16-bit grey (and 32-bit integer images within 0..65535) are *scaled* to 8 bits
  (``round(v * 255 / 65535)``), never clipped; 16-bit RGB keeps each sample's high byte
  (Pillow's reading, within one 8-bit level of exact scaling); both add a note;
- an alpha channel (RGBA, LA, a palette with transparency) is flattened on white, with a
  note: transparent pixels become white, as most viewers show them;
- palette, CMYK, YCbCr, LAB and HSV images are converted to RGB, with a note (CMYK without
  its ICC profile, so colours can shift);
- floating-point images are refused (their range is unknown);
- an image over the pixel cap (:data:`DEFAULT_MAX_PIXELS`, ``run --max-megapixels``) is
  refused before it is decoded, as are Pillow's decompression bombs; truncated, empty and
  unreadable files are refused. A refusal is an :class:`ImageRefused` (a ``ValueError``)
  naming the file; the runner
  turns it into error rows for that item and goes on.

Notes travel with the pixels (:class:`DecodedImage`); the runner stores them in each
result's details under ``"input_notes"``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_PIXELS = 50_000_000
"""The default pixel cap (50 MP): larger images are refused with an error row."""

_CONVERTED = {
    "P": "palette image expanded to RGB",
    "CMYK": "CMYK converted to RGB without an ICC profile (colours may shift)",
    "YCbCr": "YCbCr converted to RGB",
    "LAB": "LAB converted to RGB",
    "HSV": "HSV converted to RGB",
}
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class ImageRefused(ValueError):
    """An image file that the decoding policy refuses; the message names the file."""


@dataclass(frozen=True)
class DecodedImage:
    """An (H, W, 3) uint8 array, and what decoding changed about the file's pixels."""

    array: np.ndarray
    notes: tuple[str, ...] = ()


def _sixteen_bit_to_8(image: Image.Image, name: object) -> np.ndarray:
    values = np.asarray(image, dtype=np.int64)
    if values.min() < 0 or values.max() > 65535:
        raise ImageRefused(f"cannot read image {name}: integer samples outside 0..65535")
    grey = np.rint(values * (255.0 / 65535.0)).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _flatten_on_white(image: Image.Image) -> np.ndarray:
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
    alpha = rgba[..., 3:] / 255.0
    flat = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return np.rint(flat).astype(np.uint8)


def _rawmode(image: Image.Image) -> str:
    """How the file stores samples (e.g. ``RGB;16B``), read before decoding clears it."""
    args = image.tile[0][3] if image.tile else None
    return args if isinstance(args, str) else ""


def _to_rgb(image: Image.Image, rawmode: str, name: object) -> DecodedImage:
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        mode = "PA"
    if mode in _ALPHA_MODES:
        return DecodedImage(_flatten_on_white(image), (f"{mode} alpha flattened on white",))
    if mode.startswith("I;16") or mode == "I":
        note = "16-bit grey scaled to 8-bit"
        return DecodedImage(_sixteen_bit_to_8(image, name), (note,))
    if mode == "F":
        raise ImageRefused(f"cannot read image {name}: floating-point images are not supported")
    notes = (_CONVERTED[mode],) if mode in _CONVERTED else ()
    if mode == "RGB" and "16" in rawmode:
        notes = ("16-bit RGB reduced to 8-bit (high byte)",)
    return DecodedImage(np.array(image.convert("RGB")), notes)


def decode_image(
    data: bytes, name: Path | str = "<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS
) -> DecodedImage:
    """Encoded image bytes as RGB uint8 with notes, by the module's policy; ValueError
    naming ``name`` for anything it refuses."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRefused(
                    f"image {name} is {width}x{height} = {width * height / 1e6:.1f} MP, over "
                    f"the pixel cap of {max_pixels / 1e6:g} MP (run --max-megapixels)"
                )
            rawmode = _rawmode(image)
            image.load()
            return _to_rgb(image, rawmode, name)
    except ImageRefused:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"cannot read image {name}: decompression bomb refused ({exc})") from exc
    except Exception as exc:  # a malformed file may fail anywhere inside Pillow
        raise ImageRefused(f"cannot read image {name}: {type(exc).__name__}: {exc}") from exc


def decode_rgb(
    data: bytes, name: Path | str = "<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Encoded image bytes as an (H, W, 3) uint8 array (see :func:`decode_image`)."""
    return decode_image(data, name, max_pixels).array


def read_rgb(path: Path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 array (see :func:`decode_image`)."""
    return decode_rgb(Path(path).read_bytes(), path)


def check_readable(path: Path) -> tuple[int, int]:
    """Open an image's header without decoding it; return (width, height)."""
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except Exception as exc:  # a malformed file may fail anywhere inside Pillow
        raise ImageRefused(f"not a readable image ({exc})") from exc


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
