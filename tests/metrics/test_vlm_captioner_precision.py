"""The VLM captioner (option ``dtype``: auto = the checkpoint's own, bfloat16 for
Qwen2.5-VL) runs in float16 and bfloat16 on CPU: captions come out, and the next-token
logits of one forward pass stay within a stated tolerance of float32."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.vision_language.vlm_captioner import VLMCaptioner

from .test_vlm_captioner import tiny_qwen  # noqa: F401 (fixture)

#: Largest |Δ| of the logits from float32, relative to their largest magnitude. Measured on
#: the tiny random Qwen2.5-VL: float16 0.0009, bfloat16 0.007 (8 mantissa bits to 11).
TOLERANCE = {"float16": 0.01, "bfloat16": 0.06}


def _logits(captioner: VLMCaptioner, images: torch.Tensor) -> torch.Tensor:
    """Logits of the first generated position, through the captioner's own processor."""
    from PIL import Image

    from semfid_bench.datasets.images import to_uint8

    model = captioner._load()
    processor = captioner._processor
    text = processor.apply_chat_template(captioner._messages(), add_generation_prompt=True)
    pil = [Image.fromarray(to_uint8(image)) for image in images]
    inputs = processor(text=[text] * len(pil), images=pil, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return model(**inputs.to(captioner.device)).logits[:, -1].float()


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_captions_and_logits_are_close_to_float32(
    dtype,
    tiny_qwen,  # noqa: F811
    sample_images,
):
    images = sample_images[:2, :, :64, :64]
    full = VLMCaptioner(weights=tiny_qwen, dtype="float32", max_new_tokens=4)
    half = VLMCaptioner(weights=tiny_qwen, dtype=dtype, max_new_tokens=4)
    assert next(half._load().parameters()).dtype == getattr(torch, dtype)
    reference, logits = _logits(full, images), _logits(half, images)
    relative = ((logits - reference).abs().max() / reference.abs().max()).item()
    print(f"{dtype}: relative max |Δ| {relative:.5f}")
    assert relative <= TOLERANCE[dtype] and not torch.equal(logits, reference)
    captions = half.caption(images)
    assert len(captions) == 2 and all(isinstance(text, str) for text in captions)
