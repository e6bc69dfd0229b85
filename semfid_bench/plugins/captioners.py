"""Built-in captioners: Qwen2.5-VL (7B, the study's model; 3B, smaller)."""

from __future__ import annotations

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import CaptionerRegistrar
from semfid_bench.plugin_api.specs import CaptionerSpec


@hookimpl
def register_captioners(register: CaptionerRegistrar) -> None:
    register.add(
        CaptionerSpec(
            name="qwen2.5-vl",
            description='Qwen/Qwen2.5-VL-7B-Instruct, prompt "Describe this image.", greedy '
            "(options model, weights, prompt, max_new_tokens).",
        ),
        "semfid_bench.vision_language.vlm_captioner:VLMCaptioner",
    )
    register.add(
        CaptionerSpec(
            name="qwen2.5-vl-3b",
            description="Qwen/Qwen2.5-VL-3B-Instruct, the smaller option; same options.",
        ),
        _small,
    )


def _small(**options):
    from semfid_bench.vision_language.vlm_captioner import SMALL_MODEL, VLMCaptioner

    options.setdefault("model", SMALL_MODEL)
    return VLMCaptioner(**options)
