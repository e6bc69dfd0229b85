"""Tile placement and blending of the latent tiler."""

from __future__ import annotations

import itertools
from math import exp, pi, sqrt

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semfid_bench.sr_models.diffusion.latent_tiling import (
    gaussian_weights,
    tile_starts,
    tiled_predict,
)


@pytest.mark.parametrize(("size", "tile", "overlap"), [(64, 32, 8), (100, 32, 16), (33, 32, 4)])
def test_tiles_cover_everything_with_full_length_and_overlap(size, tile, overlap):
    starts = tile_starts(size, tile, overlap)
    covered = torch.zeros(size, dtype=torch.bool)
    for start in starts:
        assert start >= 0 and start + tile <= size
        covered[start : start + tile] = True
    assert covered.all()
    assert starts[-1] == size - tile
    assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))


def test_small_input_is_one_tile():
    assert tile_starts(20, 32, 8) == [0]


def test_weights_are_positive_and_peak_in_the_centre():
    weights = gaussian_weights(9, 7)
    assert weights.shape == (1, 1, 9, 7)
    assert (weights > 0).all()
    assert weights[0, 0, 4, 3] == weights.max()


def authors_gaussian_weights(tile_width: int, tile_height: int) -> np.ndarray:
    """``_gaussian_weights`` copied from the authors' code, less its final ``torch.tile``
    over batch and channels: cswry/SeeSR @8edecc7 ``pipelines/pipeline_seesr.py``, identical
    in yangxy/PASD @396f9ac ``pasd/pipelines/pipeline_pasd.py`` and IceClear/StableSR
    @398ee93 ``ldm/models/diffusion/ddpm.py`` (``LatentDiffusionSRTextWT``)."""
    latent_width = tile_width
    latent_height = tile_height

    var = 0.01
    midpoint = (latent_width - 1) / 2  # -1 because index goes from 0 to latent_width - 1
    x_probs = [
        exp(-(x - midpoint) * (x - midpoint) / (latent_width * latent_width) / (2 * var))
        / sqrt(2 * pi * var)
        for x in range(latent_width)
    ]
    midpoint = latent_height / 2
    y_probs = [
        exp(-(y - midpoint) * (y - midpoint) / (latent_height * latent_height) / (2 * var))
        / sqrt(2 * pi * var)
        for y in range(latent_height)
    ]

    return np.outer(y_probs, x_probs)  # fmt: skip


def authors_tile_offsets(size: int, tile_size: int, tile_overlap: int) -> list[int]:
    """Tile offsets along one axis of StableSR's ``p_mean_variance_canvas`` (same commit):
    the grid count loop and ``ofs = max(i * tile - overlap * i, 0)``, last one ``size - tile``."""
    grid = 0
    cur = 0
    while cur < size:
        cur = max(grid * tile_size - tile_overlap * grid, 0) + tile_size
        grid += 1
    offsets = [max(i * tile_size - tile_overlap * i, 0) for i in range(grid - 1)]
    return [*offsets, size - tile_size]


@pytest.mark.parametrize(("height", "width"), [(64, 64), (96, 96), (40, 72), (9, 7)])
def test_weights_are_the_authors_gaussian(height, width):
    """σ = 0.1 × tile (var 0.01) and the rows' centre at H / 2, as the authors have it."""
    expected = torch.from_numpy(authors_gaussian_weights(width, height))
    weights = gaussian_weights(height, width, dtype=torch.float64)[0, 0]
    torch.testing.assert_close(weights, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("size", "tile", "overlap"), [(64, 64, 32), (65, 64, 32), (100, 64, 32), (96, 64, 32),
                                  (200, 96, 4), (150, 64, 8)]
)  # fmt: skip
def test_tiles_start_where_the_authors_tiles_start(size, tile, overlap):
    assert tile_starts(size, tile, overlap) == authors_tile_offsets(size, tile, overlap)


def test_pointwise_predictor_with_aligned_conditioning_is_tiling_invariant():
    """A predictor that mixes the sample with its conditioning at the same place gives the
    same result tiled or not, so crops of the conditioning must line up with the tile."""
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 4, 40, 56, generator=generator)
    hint = torch.rand(2, 3, 320, 448, generator=generator)  # 8× the latent's resolution

    def predict(x, hint, shift):
        return x * 2 + F.avg_pool2d(hint, 8).mean(1, keepdim=True) + shift

    whole = predict(sample, hint, shift=0.5)
    tiled = tiled_predict(
        predict, sample, tile=16, overlap=6, spatial={"hint": (hint, 8)}, shift=0.5
    )
    torch.testing.assert_close(tiled, whole)
