"""Diffusion-based SR models: the Stable Diffusion x4 upscaler, SeeSR, PASD, StableSR.

Only specs and factory strings here; the models import diffusers when created. Which files
each needs and the authors' defaults are in ``docs/diffusion-models.md``.
"""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import SRModelRegistrar
from semfid_bench.plugin_api.specs import SRModelSpec


@hookimpl
def register_sr_models(register: SRModelRegistrar) -> None:
    register.add(
        SRModelSpec(
            name="sd-x4-upscaler",
            gpu_memory_gib=6.0,
            scales=(4,),
            description="Stable Diffusion x4 upscaler (stabilityai/stable-diffusion-x4-upscaler, "
            "diffusers pipeline).",
        ),
        "semfid_bench.sr_models.diffusion.sd_x4_upscaler:SDx4Upscaler",
    )
    register.add(
        SRModelSpec(
            name="seesr",
            gpu_memory_gib=9.0,
            scales=(4,),
            description="SeeSR (CVPR 2024) on SD 2-base: LR ControlNet, DAPE tags and image "
            "cross-attention; weights from the authors' Google Drive.",
        ),
        "semfid_bench.sr_models.diffusion.seesr:SeeSR",
    )
    register.add(
        SRModelSpec(
            name="pasd",
            gpu_memory_gib=11.0,
            scales=(2, 4),
            description="PASD (ECCV 2024) on SD 1.5: pixel-aware cross-attention and "
            "degradation removal; weights yangtao9009/PASD.",
        ),
        "semfid_bench.sr_models.diffusion.pasd:PASD",
    )
    register.add(
        SRModelSpec(
            name="stablesr",
            gpu_memory_gib=5.0,
            scales=(4,),
            description="StableSR (IJCV 2024) on SD 2.1-base: SPADE from a time-aware LR "
            "encoder, CFW decoder fusion; CompVis checkpoints from Iceclear/StableSR.",
        ),
        "semfid_bench.sr_models.diffusion.stablesr:StableSR",
    )
