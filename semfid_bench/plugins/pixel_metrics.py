"""PSNR and SSIM in the RGB and the BasicSR Y-channel conventions."""

from __future__ import annotations

import math

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import MetricRegistrar
from semfid_bench.plugin_api.specs import MetricSpec

_MODULE = "semfid_bench.metrics.pixel"
_Y = "Y of BT.601 limited-range YCbCr (BasicSR), crop_border 4 (option)"


@hookimpl
def register_metrics(register: MetricRegistrar) -> None:
    register.add(
        MetricSpec(
            name="psnr",
            higher_is_better=True,
            decimals=2,
            value_range=(0.0, math.inf),
            convention="RGB in [0, 1], no crop (= pyiqa psnr)",
            description="Peak signal-to-noise ratio, dB.",
        ),
        f"{_MODULE}:make_psnr",
    )
    register.add(
        MetricSpec(
            name="psnr-y",
            higher_is_better=True,
            decimals=2,
            value_range=(0.0, math.inf),
            convention=_Y + " (= pyiqa psnr, test_y_channel, color_space='ycbcr')",
            description="PSNR on luma, as SR papers report it, dB.",
        ),
        f"{_MODULE}:make_psnr_y",
    )
    register.add(
        MetricSpec(
            name="ssim",
            higher_is_better=True,
            decimals=4,
            value_range=(0.0, 1.0),
            convention="RGB, 8-bit levels, 11x11 Gaussian σ 1.5, valid (= pyiqa ssimc)",
            description="Structural similarity, mean over channels.",
        ),
        f"{_MODULE}:make_ssim",
    )
    register.add(
        MetricSpec(
            name="ssim-y",
            higher_is_better=True,
            decimals=4,
            value_range=(0.0, 1.0),
            convention=_Y + " (= pyiqa ssim, color_space='ycbcr')",
            description="Structural similarity on luma, as SR papers report it.",
        ),
        f"{_MODULE}:make_ssim_y",
    )
