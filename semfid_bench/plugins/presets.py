"""Built-in presets: the SeeSR paper's Table 2 and Table 3, and the thesis's study.
docs/presets.md maps each column of those tables to a metric and its convention."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import PresetRegistrar
from semfid_bench.plugin_api.specs import PresetSpec

SEESR = "Wu et al., SeeSR: Towards Semantics-Aware Real-World Image Super-Resolution, CVPR 2024"
THESIS = "Measuring Semantic Differences Between Images in the SR Domain (the thesis)"


@hookimpl
def register_presets(register: PresetRegistrar) -> None:
    register.add(
        PresetSpec(
            name="seesr-table2",
            description="Full- and no-reference quality on StableSR's DIV2K-Val, RealSR and "
            "DRealSR test sets (given LR): PSNR/SSIM on Y, LPIPS, DISTS, FID, NIQE, "
            "MANIQA, MUSIQ, CLIPIQA.",
            datasets=("stablesr-div2k-val", "stablesr-realsr", "stablesr-drealsr"),
            metrics=(
                "psnr-y",
                "ssim-y",
                "lpips",
                "pyiqa:dists",
                "fid",
                "pyiqa:niqe",
                "pyiqa:maniqa-pipal",
                "pyiqa:musiq",
                "pyiqa:clipiqa",
            ),
            options=("metric:psnr-y.crop_border=0", "metric:ssim-y.crop_border=0"),
            reference=f"{SEESR}, Table 2",
        )
    )
    register.add(
        PresetSpec(
            name="seesr-table3",
            description="Semantic restoration on COCO val2017: panoptic PQ, instance AP and "
            "semantic mIoU of a segmentation model on the SR images against COCO's "
            "annotations; LR made by the Real-ESRGAN degradation (SeeSR's training one).",
            datasets=("coco-val2017",),
            metrics=("seg-pq", "seg-ap", "seg-miou"),
            options=tuple(f"metric:{m}.mode=annotations" for m in ("seg-pq", "seg-ap", "seg-miou")),
            degradations=("realesrgan",),
            levels=(1.0,),
            reference=f"{SEESR}, Table 3",
        )
    )
    register.add(
        PresetSpec(
            name="thesis",
            description="The study's metric set on KonIQ-10k at BSRGAN levels 0.3, 0.7 and "
            "1.0 with its five SR models (the learned metrics need --set "
            "regressor.checkpoint=... and clu.checkpoint=...).",
            datasets=("koniq10k",),
            metrics=(
                "psnr",
                "ssim",
                "lpips",
                "clip",
                "c2c",
                "c2i",
                "splice-sym",
                "splice-nonsym",
                "regressor",
                "clu",
            ),
            models=("bsrgan", "seesr", "stablesr", "swinir", "pasd"),
            degradations=("bsrgan",),
            levels=(0.3, 0.7, 1.0),
            reference=f"{THESIS}, sections 3.2 and 4",
        )
    )
