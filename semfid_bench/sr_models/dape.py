"""SeeSR's degradation-aware prompt extractor (DAPE): the interface, and what it needs.

DAPE is RAM (Recognize Anything, Swin-L backbone, ``ram_swin_large_14m.pth``) whose image
encoder the SeeSR authors fine-tuned with LoRA on degraded images (``DAPE.pth``, loaded as
RAM's ``pretrained_condition``). For an LR image resized to 384×384 and normalised with the
ImageNet mean/std it gives (1) tags, joined by ", " into the start of the prompt, and
(2) ``image_proj(visual_encoder(image))``: (B, tokens, 512) embeddings that SeeSR's image
cross-attention attends to.

RAM's Swin-L + BERT tagging head is not yet ported to semfid-bench, so
:func:`load_dape_tagger` stops with an error saying so, once both files are found.
Any object with the :class:`TagExtractor` call signature can be passed to
:class:`~semfid_bench.sr_models.seesr.SeeSR` instead (the tests use one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch

from semfid_bench.errors import SemfidError
from semfid_bench.weights import WeightFile, fetch_weights, local_weights

RAM_WEIGHTS = WeightFile(
    "ram_swin_large_14m.pth",
    "https://huggingface.co/xinyu1205/recognize_anything_model/resolve/main/ram_swin_large_14m.pth",
)
DAPE_SOURCE = (
    "DAPE.pth from the SeeSR authors' Google Drive "
    "https://drive.google.com/drive/folders/12HXrRGEXUAnmHRaf0bIn-S8XSK4Ku0JO"
)


class TagExtractor(Protocol):
    """Maps LR images (B, 3, h, w) in [0, 1] to one tag string per image and image
    embeddings (B, tokens, 512)."""

    def __call__(self, lr: torch.Tensor) -> tuple[list[str], torch.Tensor]: ...


def dape_weight_lookups(ram: str | None, dape: str | None) -> dict[str, Callable[[], Path]]:
    """Lookups (for :func:`~semfid_bench.weights.locate_all`) of RAM's and DAPE's files."""
    return {
        "ram": lambda: fetch_weights(RAM_WEIGHTS, ram, option="--set seesr.ram=PATH"),
        "dape": lambda: local_weights(
            dape, what="DAPE.pth", source=DAPE_SOURCE, option="--set seesr.dape=PATH"
        ),
    }


def load_dape_tagger(ram: Path, dape: Path, *, device: torch.device | str) -> TagExtractor:
    """The DAPE tagger from RAM's and DAPE's weights, on ``device``. Stops with an error:
    RAM inference is not ported yet (see the module doc)."""
    raise SemfidError(
        "SeeSR's DAPE tagger (RAM Swin-L with the DAPE LoRA) is not implemented in "
        f"semfid-bench yet; its weights were found at {ram} and {dape}.",
        hint="See docs/diffusion-models.md (SeeSR); a Python caller can pass its own "
        "tagger object to SeeSR(tagger=...).",
    )
