"""A transformers vision-language model as a captioner (default: Qwen2.5-VL-7B-Instruct).

The study's text names Qwen2.5-VL-7B-Instruct; its captioning script actually ran
Qwen2-VL-7B-Instruct with the prompt "Describe this image." and ``generate()`` defaults.
Here the model, the prompt and the generation length are options, decoding is greedy
(deterministic), and all of them are recorded in ``config`` (which keys the caption cache
and goes into every result's metric options). ``Qwen/Qwen2.5-VL-3B-Instruct`` is the
smaller choice (``--set c2c.captioner=qwen2.5-vl-3b``); any model that
``AutoModelForImageTextToText`` loads with a chat template should work.
"""

from __future__ import annotations

from typing import Any

import torch

from semfid_bench.datasets.images import to_uint8
from semfid_bench.plugin_api.interfaces import Captioner
from semfid_bench.plugin_api.weights import hf_snapshot

DEFAULT_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
SMALL_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"
DEFAULT_PROMPT = "Describe this image."


class VLMCaptioner(Captioner):
    """Greedy captions from a chat-template VLM, batched, loaded on first use.

    :param model: Hugging Face hub id. :param weights: local folder instead of the hub.
    :param prompt: the user message sent with each image.
    """

    def __init__(
        self,
        device: torch.device | None = None,
        model: str = DEFAULT_MODEL,
        weights: str | None = None,
        prompt: str = DEFAULT_PROMPT,
        max_new_tokens: int = 128,
        batch_size: int = 4,
        dtype: str = "auto",
        revision: str | None = None,
        option: str = "c2c.captioner_options",
    ) -> None:
        self.device = torch.device(device or "cpu")
        self.model_id = model
        self.weights = weights
        self.prompt = prompt
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = int(batch_size)
        self.dtype = dtype
        self.revision = revision
        self.option = option
        self._model = None
        self._processor = None

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "weights": self.weights,
            "revision": self.revision,
            "prompt": self.prompt,
            "max_new_tokens": self.max_new_tokens,
            "decoding": "greedy",
        }

    def _load(self):
        if self._model is None:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            folder = hf_snapshot(
                self.model_id,
                self.weights,
                option=f'--set {self.option}=\'{{"weights": "PATH"}}\'',
                revision=self.revision,
            )
            self._processor = AutoProcessor.from_pretrained(folder)
            self._processor.tokenizer.padding_side = "left"
            dtype = self.dtype if self.dtype == "auto" else getattr(torch, self.dtype)
            model = AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype)
            self._model = model.to(self.device).eval()
        return self._model

    def _messages(self) -> list[dict]:
        content = [{"type": "image"}, {"type": "text", "text": self.prompt}]
        return [{"role": "user", "content": content}]

    @torch.inference_mode()
    def caption(self, images: torch.Tensor) -> list[str]:
        from PIL import Image

        model = self._load()
        processor = self._processor
        text = processor.apply_chat_template(self._messages(), add_generation_prompt=True)
        captions: list[str] = []
        for batch in images.split(self.batch_size):
            pil = [Image.fromarray(to_uint8(image)) for image in batch]
            inputs = processor(
                text=[text] * len(pil), images=pil, padding=True, return_tensors="pt"
            ).to(self.device)
            out = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
            new_tokens = out[:, inputs["input_ids"].shape[1] :]
            decoded = processor.batch_decode(new_tokens, skip_special_tokens=True)
            captions.extend(caption.strip() for caption in decoded)
        return captions
