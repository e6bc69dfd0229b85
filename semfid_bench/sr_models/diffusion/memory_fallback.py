"""Out-of-memory fallback for diffusion SR models, per call.

A diffusion model that runs out of GPU memory on one image retries that image with smaller
tiles: first the VAE decodes in tiles, then the latent tiles of the denoiser halve (for
StableSR also the patches its CFW decoder restores), down to a floor. The settings come
back after the call, so the next image runs as configured; what the retry changed is
reported through :meth:`MemoryFallback.fallbacks` and lands in that cell's rows
(``details.input_notes``) and in the run's notes.

The result key keeps the configured tiling: it names what was asked for, and is known before
anything is computed (the runner skips and claims cells by it). Putting the tiling that
happened into the key would make every later run with the same settings miss the row and
compute (and run out of memory) again. The row records the tiling actually used instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

from semfid_bench.sr_models.pixel_tiling import _is_out_of_memory

T = TypeVar("T")

#: Smallest latent tile a retry goes down to (latent pixels; 8 × 8 = 64 px images).
MIN_LATENT_TILE = 16


def smaller_tile(tile: int, size: int, multiple: int, floor: int) -> int | None:
    """Half of ``tile`` (or of ``size`` when the tile already covers it), rounded down to
    ``multiple``; None below ``floor``."""
    half = (min(tile, size) // 2) // multiple * multiple
    return half if half >= floor else None


class MemoryFallback:
    """Mixin for diffusion SR models with ``tile`` and ``tile_overlap`` (latent pixels) and a
    VAE decode that can be tiled (``_force_vae_tiling``): :meth:`with_memory_fallback` runs
    one call, retrying it with :meth:`_shrink` on out-of-memory; :meth:`fallbacks` reports
    the last call's retries."""

    tile: int
    tile_overlap: int
    _force_vae_tiling = False
    _fallback_notes: list[str]

    def fallbacks(self) -> list[str]:
        """What the last ``upscale`` call changed to fit in memory (empty when nothing)."""
        return list(getattr(self, "_fallback_notes", []))

    def _memory_settings(self) -> dict[str, Any]:
        """The attributes a retry may change (restored after every call)."""
        return {
            "tile": self.tile,
            "tile_overlap": self.tile_overlap,
            "_force_vae_tiling": self._force_vae_tiling,
        }

    def _latent_geometry(self, size: int) -> tuple[int, int]:
        """(the latent's larger side, the multiple its tiles must be) for an image whose
        larger side is ``size`` pixels."""
        raise NotImplementedError

    def _shrink(self, size: int) -> str | None:
        """Lower the memory the next try needs for an input whose larger side is ``size``
        pixels: a tiled VAE decode first, then smaller latent tiles; say what changed, or
        None when nothing can shrink any more."""
        if not self._force_vae_tiling:
            self._force_vae_tiling = True
            return "tiled VAE decode"
        tiles = self._shrink_latent_tiles(size)
        return None if tiles is None else f"{tiles} and tiled VAE decode"

    def _shrink_latent_tiles(self, size: int) -> str | None:
        """Halve the latent tiles (overlap at most a quarter of them); None at the floor."""
        side, multiple = self._latent_geometry(size)
        tile = smaller_tile(self.tile, side, multiple, max(MIN_LATENT_TILE, multiple))
        if tile is None:
            return None
        self.tile, self.tile_overlap = tile, min(self.tile_overlap, tile // 4)
        return f"latent tiles of {tile} (overlap {self.tile_overlap})"

    def with_memory_fallback(self, call: Callable[[], T], size: int) -> T:
        """``call()``, retried with smaller tiles while it runs out of memory; the settings
        are restored afterwards, whatever happened."""
        saved = self._memory_settings()
        try:
            while True:
                try:
                    return call()
                except (torch.OutOfMemoryError, RuntimeError) as exc:
                    if not _is_out_of_memory(exc):
                        raise
                    change = self._shrink(size)
                    if change is None:
                        raise
                    self._fallback_notes.append(f"out of memory; retried with {change}")
                    if torch.cuda.is_available():
                        torch.cuda.empty_cache()
        finally:
            for name, value in saved.items():
                setattr(self, name, value)
