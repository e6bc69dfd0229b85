"""Baselines: bicubic downscaling as a degradation, interpolation as SR models."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import DegradationRegistrar, SRModelRegistrar
from semfid_bench.plugin_api.specs import DegradationSpec, SRModelSpec


@hookimpl
def register_degradations(register: DegradationRegistrar) -> None:
    register.add(
        DegradationSpec(
            name="bicubic",
            scales=(2, 4),
            levels=(1.0,),
            description="Antialiased bicubic downscaling; no noise, blur or compression.",
        ),
        "semfid_bench.degradations.bicubic:BicubicDownscale",
    )


@hookimpl
def register_sr_models(register: SRModelRegistrar) -> None:
    register.add(
        SRModelSpec(
            name="bicubic",
            scales=(2, 3, 4, 8),
            description="Bicubic interpolation (baseline).",
        ),
        "semfid_bench.sr_models.interpolation:InterpolationUpscaler",
    )
    register.add(
        SRModelSpec(
            name="nearest",
            scales=(2, 3, 4, 8),
            description="Nearest-neighbour interpolation (lower baseline).",
        ),
        _nearest,
    )


def _nearest(**kwargs):
    from semfid_bench.sr_models.interpolation import InterpolationUpscaler

    return InterpolationUpscaler(mode="nearest", **kwargs)
