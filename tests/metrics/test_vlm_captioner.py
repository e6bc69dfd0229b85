"""The VLM captioner on a tiny random Qwen2.5-VL (real classes, saved and loaded like a hub
snapshot), and C2C end to end through the captioner plugin with the real all-MiniLM-L6-v2."""

import pytest
import torch

from semfid_bench.datasets.manifest import Item
from semfid_bench.metrics.c2c import CaptionToCaption
from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.vision_language.vlm_captioner import DEFAULT_MODEL, VLMCaptioner

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"]
SPECIAL += ["<|image_pad|>", "<|video_pad|>"]
WORDS = ["user", "assistant", "describe", "this", "image", ".", "a", "cat", "dog", "sky", "\n"]
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    """A folder with a tiny Qwen2.5-VL and its processor (word-level test tokenizer)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    vocab = {token: i for i, token in enumerate([*SPECIAL, *WORDS, "[UNK]"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        additional_special_tokens=SPECIAL[1:],
    )
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=112 * 112),
        video_processor=Qwen2VLVideoProcessor(),
        tokenizer=tokenizer,
        chat_template=TEMPLATE,
    )
    ids = {"eos_token_id": vocab["<|im_end|>"], "pad_token_id": vocab["<|endoftext|>"]}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
            "bos_token_id": None,
            **ids,
        },
        vision_config={
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 32,
            "fullatt_block_indexes": [0],
        },
        image_token_id=vocab["<|image_pad|>"],
        video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"],
        vision_end_token_id=vocab["<|vision_end|>"],
        **ids,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-qwen")
    Qwen2_5_VLForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return str(folder)


def test_captions_are_batched_and_deterministic(tiny_qwen, sample_images):
    images = sample_images[:3, :, :64, :80]
    first = VLMCaptioner(weights=tiny_qwen, max_new_tokens=4, batch_size=2)
    captions = first.caption(images)
    assert len(captions) == 3 and all(isinstance(text, str) for text in captions)
    assert (
        VLMCaptioner(weights=tiny_qwen, max_new_tokens=4, batch_size=3).caption(images) == captions
    )
    assert first.config["prompt"] == "Describe this image." and first.config["decoding"] == "greedy"
    assert VLMCaptioner(prompt="What is shown?").config != VLMCaptioner().config


def test_missing_vlm_weights_name_the_hub_repo():
    with pytest.raises(WeightsUnavailableError) as info:
        VLMCaptioner().caption(torch.rand(1, 3, 32, 32))
    assert DEFAULT_MODEL in info.value.message
    assert "captioner_options" in info.value.hint


@pytest.mark.slow
def test_c2c_end_to_end_with_the_vlm_plugin(tiny_qwen, sample_images):
    options = {"weights": tiny_qwen, "max_new_tokens": 4}
    metric = CaptionToCaption(captioner="qwen2.5-vl", captioner_options=options)
    gt = sample_images[:2, :, :64, :64]
    reference = metric.reference(gt, [Item(id="a", gt="a.png"), Item(id="b", gt="b.png")])
    scores, details = metric.score_with_details(gt, reference)
    assert [d["sr_caption"] for d in details] == reference["captions"]
    torch.testing.assert_close(scores, torch.ones(2), atol=1e-5, rtol=0)
