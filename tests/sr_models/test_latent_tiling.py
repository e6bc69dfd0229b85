"""Tile placement and blending of the latent tiler."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from semfid_bench.sr_models.latent_tiling import gaussian_weights, tile_starts, tiled_predict


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
