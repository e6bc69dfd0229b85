"""Metrics that compare the SR image with its LR input (opensr-test's consistency and
correctness), for natural RGB images."""

from __future__ import annotations

import math

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import MetricRegistrar
from semfid_bench.plugin_api.specs import MetricSpec

_CONSISTENCY = "semfid_bench.metrics.lr_consistency"
_CORRECTNESS = "semfid_bench.metrics.correctness"
_SEMANTIC = "semfid_bench.metrics.semantic_correctness"
_DOWN = (
    "SR downsampled (resize option: bicubic antialiased = the bicubic degradation's, or "
    "opensr-test's crop-then-bilinear) vs LR, RGB in [0, 1], border 4 LR px cropped"
)
_HARMONISED = (
    "opensr-test correctness: SR histogram-matched and phase-aligned to GT, normalised "
    "differences to GT and to LR (bilinear up), auto75 mask, % of kept pixels (norm option)"
)


@hookimpl
def register_metrics(register: MetricRegistrar) -> None:
    consistency = [
        ("lr-psnr", True, (0.0, math.inf), "PSNR of the downsampled SR against the LR, dB."),
        ("lr-mae", False, (0.0, 1.0), "Mean absolute difference of downsampled SR and LR."),
        ("lr-sam", False, (0.0, 180.0), "Mean spectral angle, downsampled SR vs LR, degrees."),
        ("lr-shift", False, (0.0, math.inf), "Translation of downsampled SR vs LR, LR pixels."),
    ]
    for name, higher, value_range, description in consistency:
        register.add(
            MetricSpec(
                name=name,
                higher_is_better=higher,
                full_reference=False,
                value_range=value_range,
                convention=_DOWN + (" (phase correlation, 1/50 px)" if name == "lr-shift" else ""),
                description=description,
                needs_lr=True,
            ),
            f"{_CONSISTENCY}:make_{name.replace('-', '_')}",
        )
    correctness = [
        ("improvement", True, "Share of pixels whose detail moved towards GT, beyond LR, %."),
        ("omission", False, "Share of pixels whose detail stayed at the LR's, %."),
        ("hallucination", False, "Share of pixels far from both GT and LR, %."),
    ]
    for name, higher, description in correctness:
        register.add(
            MetricSpec(
                name=name,
                higher_is_better=higher,
                value_range=(0.0, 100.0),
                convention=_HARMONISED,
                description=description,
                needs_lr=True,
            ),
            f"{_CORRECTNESS}:make_{name}",
        )
        register.add(
            MetricSpec(
                name=f"semantic-{name}",
                higher_is_better=higher,
                value_range=(0.0, 100.0),
                convention="the correctness split over CLIP ViT patch tokens (1 - cosine), "
                "open_clip ViT-B-32 laion2b_s34b_b79k, centre crop",
                description=description.replace("pixels", "CLIP patches"),
                needs_lr=True,
                gpu_memory_gib=0.8,
            ),
            f"{_SEMANTIC}:make_semantic_{name}",
        )
