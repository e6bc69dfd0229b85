"""Published GAN / transformer SR checkpoints (BSRGAN, SwinIR, Real-ESRGAN), loaded through
spandrel."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import SRModelRegistrar
from semfid_bench.plugin_api.specs import SRModelSpec


@hookimpl
def register_sr_models(register: SRModelRegistrar) -> None:
    register.add(
        SRModelSpec(
            name="bsrgan",
            gpu_memory_gib=0.5,
            scales=(4,),
            description="BSRGAN x4 (RRDBNet, cszn/KAIR release BSRGAN.pth).",
        ),
        "semfid_bench.sr_models.checkpoint_models:BSRGAN",
    )
    register.add(
        SRModelSpec(
            name="swinir",
            gpu_memory_gib=1.0,
            scales=(4,),
            description="SwinIR-L real-world x4 GAN; variant=classical for SwinIR-M x4.",
        ),
        "semfid_bench.sr_models.checkpoint_models:SwinIR",
    )
    register.add(
        SRModelSpec(
            name="realesrgan",
            gpu_memory_gib=0.5,
            scales=(4,),
            description="Real-ESRGAN x4plus (RRDBNet, xinntao/Real-ESRGAN release).",
        ),
        "semfid_bench.sr_models.checkpoint_models:RealESRGAN",
    )
