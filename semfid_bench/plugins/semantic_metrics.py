"""Semantic-fidelity metrics: CLIP intra-modal, C2I, C2C and the SpLiCE comparisons."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import MetricRegistrar
from semfid_bench.plugin_api.specs import MetricSpec

_CLIP = "open_clip ViT-B-32 laion2b_s34b_b79k (options model, pretrained)"
_SPLICE = (
    _CLIP + "; SpLiCE laion vocabulary, last 10,000 entries, l1_penalty 0.25, ADMM; "
    "score = cosine of reconstructions"
)


@hookimpl
def register_metrics(register: MetricRegistrar) -> None:
    register.add(
        MetricSpec(
            name="clip",
            gpu_memory_gib=0.8,
            higher_is_better=True,
            value_range=(-1.0, 1.0),
            convention=_CLIP,
            description="CLIP intra-modal: cosine of GT and SR image embeddings.",
        ),
        "semfid_bench.metrics.clip_metrics:ClipSimilarity",
    )
    register.add(
        MetricSpec(
            name="c2i",
            gpu_memory_gib=18.0,
            higher_is_better=True,
            value_range=(-1.0, 1.0),
            convention=_CLIP + "; GT caption from the manifest, else the captioner",
            description="Caption-to-image: CLIP cosine of the GT caption and the SR image.",
        ),
        "semfid_bench.metrics.clip_metrics:CaptionToImage",
    )
    register.add(
        MetricSpec(
            name="c2c",
            gpu_memory_gib=17.5,
            higher_is_better=True,
            value_range=(-1.0, 1.0),
            convention="captioner qwen2.5-vl (option captioner); all-MiniLM-L6-v2 mean-pooled, "
            "L2-normalised",
            description="Caption-to-caption: cosine of GT and SR caption embeddings.",
        ),
        "semfid_bench.metrics.c2c:CaptionToCaption",
    )
    for name, nouns, what in (
        ("splice-sym", False, "SR decomposed over the GT's concepts"),
        ("splice-nonsym", False, "GT and SR decomposed independently"),
        ("splice-nouns", True, "symmetric, vocabulary restricted to WordNet nouns"),
    ):
        register.add(
            MetricSpec(
                name=name,
                higher_is_better=True,
                value_range=(-1.0, 1.0),
                convention=_SPLICE + ("; nouns only" if nouns else ""),
                description=f"SpLiCE: {what}; details name lost/gained concepts.",
                gpu_memory_gib=0.8,
            ),
            f"semfid_bench.metrics.splice:make_{name.replace('-', '_')}",
        )
