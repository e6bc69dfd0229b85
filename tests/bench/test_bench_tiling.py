"""Cost of tiled SR inference relative to whole-image inference on the same network.

Run with ``pytest tests/bench --benchmark-enable`` to measure; ``extra_info`` holds the
ratio tiled / whole measured in the same run (overlap recomputation and blending).
"""

import time

import torch

from semfid_bench.sr_models.pixel_tiling import Tiling, upscale_tiled


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(16, 48, 3, padding=1),
        torch.nn.PixelShuffle(4),
    ).eval()


def test_tiled_over_whole_image_time(benchmark):
    net, lr = _net(), torch.rand(1, 3, 96, 128)
    tiling = Tiling(tile=48, overlap=12)
    with torch.inference_mode():
        whole_seconds = []
        for _ in range(4):
            started = time.perf_counter()
            whole = net(lr)
            whole_seconds.append(time.perf_counter() - started)
        tiled = benchmark.pedantic(
            upscale_tiled, args=(net, lr, 4, tiling), rounds=3, iterations=1, warmup_rounds=1
        )
    assert tiled.shape == whole.shape
    if benchmark.stats:  # only when measuring (--benchmark-enable)
        reference = sorted(whole_seconds[1:])[1]  # median after a warm-up call
        benchmark.extra_info["tiled_over_whole"] = benchmark.stats.stats.median / reference
