"""Tiled inference: coverage, seamless blending, the out-of-memory guard."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from semfid_bench.sr_models.pixel_tiling import Tiling, tile_starts, upscale_guarded, upscale_tiled


def _bicubic(lr: torch.Tensor) -> torch.Tensor:
    return F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False)


def _local_net(seed: int = 0) -> torch.nn.Module:
    """Two 3×3 convolutions then x4 nearest: each output depends on a 5×5 LR window."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 3, 3, padding=1),
        torch.nn.Upsample(scale_factor=4, mode="nearest"),
    )


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 32, 8), (32, 32, 8), (20, 32, 8)])
def test_tile_starts_cover_the_image_with_full_tiles(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    covered = torch.zeros(length, dtype=torch.bool)
    for start in starts:
        assert start >= 0 and start + size <= length
        covered[start : start + size] = True
    assert covered.all()
    assert all(b - a <= size - overlap for a, b in itertools.pairwise(starts))


def test_tiled_equals_untiled_when_overlap_covers_the_receptive_field():
    lr = torch.rand(2, 3, 45, 61, generator=torch.Generator().manual_seed(1))
    net = _local_net()
    with torch.no_grad():
        whole = net(lr)
        # receptive radius 2 <= overlap/4: every pixel with weight is exact in its tile
        tiled = upscale_tiled(net, lr, 4, Tiling(tile=20, overlap=8, batch=3))
    assert tiled.shape == (2, 3, 180, 244)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)


def test_blending_hides_seams_of_a_model_with_a_wide_receptive_field():
    lr = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(2))
    # a 15×15 box blur before upscaling: tile borders differ from the whole image
    blur = torch.nn.Conv2d(3, 3, 15, padding=7, groups=3, bias=False, padding_mode="zeros")
    torch.nn.init.constant_(blur.weight, 1 / 225)

    def forward(x):
        return _bicubic(blur(x))

    with torch.no_grad():
        whole = forward(lr)
        blended = upscale_tiled(forward, lr, 4, Tiling(tile=24, overlap=8))
        hard = upscale_tiled(forward, lr, 4, Tiling(tile=24, overlap=0))
    assert (blended - whole).abs().mean() < (hard - whole).abs().mean()


def test_untiled_and_small_images_are_one_forward_call():
    calls = []

    def forward(x):
        calls.append(tuple(x.shape))
        return _bicubic(x)

    lr = torch.rand(1, 3, 16, 20)
    upscale_tiled(forward, lr, 4, Tiling(tile=0))
    upscale_tiled(forward, lr, 4, Tiling(tile=32, overlap=8))
    assert calls == [(1, 3, 16, 20), (1, 3, 16, 20)]


def test_tiles_are_batched():
    shapes = []

    def forward(x):
        shapes.append(x.shape[0])
        return _bicubic(x)

    upscale_tiled(forward, torch.rand(1, 3, 40, 40), 4, Tiling(tile=16, overlap=4, batch=4))
    assert shapes == [4, 4, 1]  # 3 × 3 tiles in batches of 4


def test_out_of_memory_retries_with_smaller_tiles():
    lr = torch.rand(1, 3, 60, 50, generator=torch.Generator().manual_seed(3))
    sizes, retries = [], []

    def forward(x):
        sizes.append(max(x.shape[-2:]))
        if max(x.shape[-2:]) > 24:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return _bicubic(x)

    tiling = Tiling(tile=0, overlap=8, min_tile=16, fallback_tile=48)
    out = upscale_guarded(forward, lr, 4, tiling, on_retry=retries.append)
    assert [t.tile for t in retries] == [48, 24]
    assert retries[-1].overlap == 8
    assert sizes[0] == 60 and max(sizes[2:]) == 24
    # bicubic reads 2 LR pixels each side, within the overlap's margin: still exact
    torch.testing.assert_close(out, _bicubic(lr), atol=1e-5, rtol=0)


def test_out_of_memory_below_the_minimum_tile_is_raised():
    def forward(x):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.OutOfMemoryError):
        upscale_guarded(forward, torch.rand(1, 3, 64, 64), 4, Tiling(tile=64, overlap=8))


def test_other_errors_are_not_retried():
    def forward(x):
        raise RuntimeError("size mismatch")

    with pytest.raises(RuntimeError, match="size mismatch"):
        upscale_guarded(forward, torch.rand(1, 3, 64, 64), 4, Tiling(tile=0))


def test_bad_tiling_is_refused():
    with pytest.raises(ValueError, match="overlap"):
        Tiling(tile=16, overlap=8)


@pytest.mark.parametrize(
    ("tile", "overlap"),
    [(t, o) for t in (8, 13, 24) for o in (0, 1, 3, 5) if 2 * o < t],  # Tiling's own limit
)
def test_every_output_pixel_gets_weight_for_any_geometry(tile, overlap):
    lr = torch.rand(1, 3, 37, 50, generator=torch.Generator().manual_seed(tile + overlap))

    def nearest(x):  # pixel-local: tiling must reproduce it exactly
        return F.interpolate(x, scale_factor=2, mode="nearest")

    tiled = upscale_tiled(nearest, lr, 2, Tiling(tile=tile, overlap=overlap, batch=5))
    torch.testing.assert_close(tiled, nearest(lr), atol=1e-6, rtol=0)
