"""Tiled inference for SR models: overlapping tiles, blended seams, out-of-memory retries.

Any model whose output at a pixel depends on a bounded neighbourhood of the input can be run
on tiles of the LR image: each tile is upscaled on its own and the SR tiles are blended with
weights that ramp linearly across the middle of each overlap (the outer quarters, where a
tile's own border padding affects its output, are left to the neighbour), so no seam shows
and a model whose receptive radius is under a quarter of the overlap is tiled exactly. On
CUDA out-of-memory, :func:`upscale_guarded` retries with tiles half as large instead of
failing the run.

The helper only needs ``forward``, a function from an LR batch to an SR batch ``scale``
times larger, so diffusion models can reuse it as well as feed-forward networks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from semfid_bench.plugin_api.errors import SemfidError

log = logging.getLogger(__name__)

Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Tiling:
    """How to cut an image into tiles.

    :param tile: tile side in LR pixels; 0 runs the whole image at once.
    :param overlap: LR pixels shared by neighbouring tiles (blended in the output).
    :param batch: tiles per forward call.
    :param min_tile: the out-of-memory guard gives up below this tile side.
    :param fallback_tile: the first tile side tried when an untiled run runs out of memory.
    """

    tile: int = 0
    overlap: int = 16
    batch: int = 1
    min_tile: int = 32
    fallback_tile: int = 512

    def __post_init__(self) -> None:
        if self.tile < 0 or self.overlap < 0 or self.batch < 1:
            raise ValueError(f"bad tiling {self}: tile/overlap must be >= 0, batch >= 1")
        if self.tile and self.overlap * 2 >= self.tile:
            raise ValueError(f"tile overlap {self.overlap} must be less than half the tile")


def tiling_from_options(
    plugin: str, tile: int = 0, overlap: int | None = None, batch: int = 1
) -> Tiling:
    """A :class:`Tiling` from a plugin's ``tile``/``tile_overlap``/``tile_batch`` options.

    The overlap defaults to 16 LR pixels, capped at a quarter of the tile.
    """
    tile = int(tile)
    overlap = (min(16, tile // 4) if tile else 16) if overlap is None else int(overlap)
    try:
        return Tiling(tile=tile, overlap=overlap, batch=int(batch))
    except ValueError as exc:
        raise SemfidError(f"{plugin}: {exc}", hint=f"Check --set {plugin}.tile=...") from None


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` overlapping by ``overlap``.

    Every tile has the full size (the last one is shifted back to end at the border), so
    tiles can be batched; an image smaller than a tile is one tile.
    """
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _rise(overlap: int, scale: int) -> torch.Tensor:
    """Weight of the later tile across an overlap of ``overlap`` LR pixels, in SR pixels.

    0 over the first quarter (the later tile's border, where padding spoils its output),
    a linear rise over the middle half, 1 over the last quarter; the earlier tile takes
    1 minus this, so the two always sum to 1.
    """
    margin = (overlap // 4) * scale
    length = overlap * scale
    steps = torch.arange(length, dtype=torch.float32) - margin + 1
    return (steps / (length - 2 * margin + 1)).clamp(0.0, 1.0)


def _axis_weights(starts: list[int], tile: int, scale: int) -> list[torch.Tensor]:
    """Blend weights along one axis for each tile start, in SR pixels.

    A side ramps only where it overlaps a neighbour, by the actual overlap with it (the
    last tile can overlap more than asked); image borders keep weight 1.
    """
    weights = []
    for index, start in enumerate(starts):
        weight = torch.ones(tile * scale)
        if index > 0:
            before = starts[index - 1] + tile - start
            weight[: before * scale] = _rise(before, scale)
        if index + 1 < len(starts):
            after = start + tile - starts[index + 1]
            fall = 1.0 - _rise(after, scale)
            weight[tile * scale - after * scale :] = torch.minimum(
                weight[tile * scale - after * scale :], fall
            )
        weights.append(weight)
    return weights


def upscale_tiled(forward: Forward, lr: torch.Tensor, scale: int, tiling: Tiling) -> torch.Tensor:
    """Upscale ``lr`` (B, C, h, w) tile by tile with blended overlaps."""
    batch, _, height, width = lr.shape
    if tiling.tile == 0 or (height <= tiling.tile and width <= tiling.tile):
        return forward(lr)
    tile_h, tile_w = min(tiling.tile, height), min(tiling.tile, width)
    rows = tile_starts(height, tile_h, tiling.overlap)
    cols = tile_starts(width, tile_w, tiling.overlap)
    row_weights = _axis_weights(rows, tile_h, scale)
    col_weights = _axis_weights(cols, tile_w, scale)
    boxes = [(r, c) for r in range(len(rows)) for c in range(len(cols))]

    out: torch.Tensor | None = None
    total = torch.zeros(1, 1, height * scale, width * scale, device=lr.device)
    for first in range(0, len(boxes), tiling.batch):
        group = boxes[first : first + tiling.batch]
        tiles = torch.cat(
            [lr[..., rows[r] : rows[r] + tile_h, cols[c] : cols[c] + tile_w] for r, c in group]
        )
        sr_tiles = forward(tiles).float()
        if out is None:
            out = torch.zeros(
                batch, sr_tiles.shape[1], height * scale, width * scale, device=lr.device
            )
        for index, (r, c) in enumerate(group):
            weight = (row_weights[r][:, None] * col_weights[c][None, :]).to(lr.device)
            top, left = rows[r] * scale, cols[c] * scale
            window = (..., slice(top, top + tile_h * scale), slice(left, left + tile_w * scale))
            out[window] += sr_tiles[index * batch : (index + 1) * batch] * weight
            total[window] += weight
    assert out is not None
    return out / total


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def upscale_guarded(
    forward: Forward,
    lr: torch.Tensor,
    scale: int,
    tiling: Tiling,
    on_retry: Callable[[Tiling], None] | None = None,
) -> torch.Tensor:
    """:func:`upscale_tiled`, retrying with smaller tiles on out-of-memory.

    An untiled run that runs out of memory retries with ``fallback_tile``; a tiled run
    halves the tile (and the overlap with it when needed) until ``min_tile``.
    ``on_retry`` learns each new tiling, so a model can keep the size that worked.
    """
    while True:
        try:
            return upscale_tiled(forward, lr, scale, tiling)
        except (torch.OutOfMemoryError, RuntimeError) as exc:
            if not _is_out_of_memory(exc):
                raise
            current = tiling.tile or max(lr.shape[-2:])
            smaller = min(tiling.fallback_tile, current) if tiling.tile == 0 else current // 2
            if smaller >= current:
                smaller = current // 2
            if smaller < tiling.min_tile:
                raise
            tiling = replace(tiling, tile=smaller, overlap=min(tiling.overlap, smaller // 3))
            log.warning("Out of memory; retrying with %d px tiles.", smaller)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if on_retry is not None:
                on_retry(tiling)
