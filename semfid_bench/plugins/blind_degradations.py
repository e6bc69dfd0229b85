"""Blind-SR degradation models: BSRGAN and Real-ESRGAN's second-order model, by intensity."""

from __future__ import annotations

from semfid_bench.hookspecs import hookimpl
from semfid_bench.registry import DegradationRegistrar
from semfid_bench.specs import DegradationSpec

_LEVELS_HELP = "level 1 = published model, 0 = bicubic; see docs/degradations.md"


@hookimpl
def register_degradations(register: DegradationRegistrar) -> None:
    register.add(
        DegradationSpec(
            name="bsrgan",
            scales=(2, 4),
            levels=(0.3, 0.7, 1.0),
            description=(
                "BSRGAN (Zhang et al., ICCV 2021): shuffled blur, random resampling, noise "
                f"and JPEG; {_LEVELS_HELP}."
            ),
        ),
        "semfid_bench.degradations.bsrgan:BSRGANDegradation",
    )
    register.add(
        DegradationSpec(
            name="realesrgan",
            scales=(2, 4),
            levels=(0.3, 0.7, 1.0),
            description=(
                "Real-ESRGAN second-order model (Wang et al., ICCVW 2021): two stages of "
                f"blur, resize, noise and JPEG, then sinc and JPEG; {_LEVELS_HELP}."
            ),
        ),
        "semfid_bench.degradations.realesrgan:RealESRGANDegradation",
    )
    register.add(
        DegradationSpec(
            name="realesrgan-usm",
            scales=(2, 4),
            levels=(0.3, 0.7, 1.0),
            description=(
                "Real-ESRGAN second-order model applied to the unsharp-masked GT, as in "
                f"Real-ESRGAN's training (weight 0.5 x level); {_LEVELS_HELP}."
            ),
        ),
        "semfid_bench.degradations.realesrgan:RealESRGANUSMDegradation",
    )
