"""Blind-SR degradation models: BSRGAN and Real-ESRGAN's second-order model, by intensity."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import DegradationRegistrar
from semfid_bench.plugin_api.specs import DegradationSpec

_LEVELS_HELP = "level 1 = published model, 0 = bicubic; see docs/degradations.md"


_MODELS = (
    (
        "bsrgan",
        "BSRGAN (Zhang et al., ICCV 2021): shuffled blur, random resampling, noise and JPEG",
        "semfid_bench.degradations.bsrgan:BSRGANDegradation",
    ),
    (
        "realesrgan",
        "Real-ESRGAN second-order model (Wang et al., ICCVW 2021): two stages of blur, "
        "resize, noise and JPEG, then sinc and JPEG",
        "semfid_bench.degradations.realesrgan:RealESRGANDegradation",
    ),
    (
        "realesrgan-usm",
        "Real-ESRGAN second-order model applied to the unsharp-masked GT, as in "
        "Real-ESRGAN's training (weight 0.5 x level)",
        "semfid_bench.degradations.realesrgan:RealESRGANUSMDegradation",
    ),
)


@hookimpl
def register_degradations(register: DegradationRegistrar) -> None:
    for name, description, factory in _MODELS:
        spec = DegradationSpec(
            name=name,
            scales=(2, 4),
            levels=(0.3, 0.7, 1.0),
            description=f"{description}; {_LEVELS_HELP}.",
        )
        register.add(spec, factory)
