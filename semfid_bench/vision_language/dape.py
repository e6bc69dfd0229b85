"""SeeSR's degradation-aware prompt extractor (DAPE): RAM with the authors' LoRA fine-tune.

DAPE is RAM (Recognize Anything, Swin-L, ``ram_swin_large_14m.pth``; see
:mod:`~semfid_bench.vision_language.ram`) whose image encoder and tagging head the SeeSR authors
fine-tuned with LoRA on degraded images (``DAPE.pth``, loaded as RAM's
``pretrained_condition``). As in their ``test_seesr.py``, the LR image is resized to 384×384
(bilinear on the tensor, no antialiasing: torchvision 0.15's tensor default) and normalised
with the ImageNet mean/std. It gives (1) the tags whose sigmoid score exceeds that tag's
threshold (RAM's ``ram_tag_list_threshold.txt``), joined by ", " in tag-list order, and (2)
``image_proj(visual_encoder(image))``: (B, 1 + tokens, 512) embeddings that SeeSR's image
cross-attention attends to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.plugin_api.weights import (
    WeightFile,
    fetch_weights,
    load_state_dict,
    local_weights,
)

if TYPE_CHECKING:
    from semfid_bench.vision_language.ram import RAMConfig

RAM_WEIGHTS = WeightFile(
    "ram_swin_large_14m.pth",
    "https://huggingface.co/xinyu1205/recognize_anything_model/resolve/main/ram_swin_large_14m.pth",
)
_RAM_DATA = (
    "https://raw.githubusercontent.com/xinyu1205/recognize-anything/"
    "7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/"
)
#: RAM's 4585 English tag names, one a line (identical in cswry/SeeSR ``ram/data``).
TAG_LIST = WeightFile(
    "ram_tag_list.txt",
    _RAM_DATA + "ram_tag_list.txt",
    "5d96d2f7225527480ad773aaac76b6e5c08a18adf6eae9ca7d2ab923d5e7bd8b",
)
#: RAM's per-tag score thresholds, one a line, in tag-list order.
TAG_THRESHOLDS = WeightFile(
    "ram_tag_list_threshold.txt",
    _RAM_DATA + "ram_tag_list_threshold.txt",
    "b6f81d0de1bc7f9c251af512c413eae976c77dbfbadf700d4e3d90510f4c6447",
)
DAPE_SOURCE = (
    "DAPE.pth from the SeeSR authors' Google Drive "
    "https://drive.google.com/drive/folders/12HXrRGEXUAnmHRaf0bIn-S8XSK4Ku0JO"
)
#: RAM's captioning parts, never read from its checkpoint (DAPE only tags).
_CAPTIONING = ("tag_encoder.", "text_decoder.")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TagExtractor(Protocol):
    """Maps LR images (B, 3, h, w) in [0, 1] to one tag string per image and image
    embeddings (B, tokens, 512)."""

    def __call__(self, lr: torch.Tensor) -> tuple[list[str], torch.Tensor]: ...


def dape_weight_lookups(
    ram: str | None,
    dape: str | None,
    tag_list: str | None = None,
    tag_thresholds: str | None = None,
) -> dict[str, Callable[[], Path]]:
    """Lookups of every file DAPE needs, for
    :func:`~semfid_bench.plugin_api.weights.locate_all`."""
    return {
        "ram": lambda: fetch_weights(RAM_WEIGHTS, ram, option="--set seesr.ram=PATH"),
        "dape": lambda: local_weights(
            dape, what="DAPE.pth", source=DAPE_SOURCE, option="--set seesr.dape=PATH"
        ),
        "tag_list": lambda: fetch_weights(TAG_LIST, tag_list, option="--set seesr.tag_list=PATH"),
        "tag_thresholds": lambda: fetch_weights(
            TAG_THRESHOLDS, tag_thresholds, option="--set seesr.tag_thresholds=PATH"
        ),
    }


def _read_lines(path: Path, count: int, what: str) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) != count:
        raise WeightsUnavailableError(
            f"{path} has {len(lines)} lines, but RAM has {count} tags: it is not RAM's {what}."
        )
    return lines


def read_ram_config(path: str | Path | None) -> RAMConfig:
    """RAM's architecture: Swin-L at 384 px, or the fields of a JSON file (other RAM sizes)."""
    from semfid_bench.vision_language.ram import RAMConfig

    if path is None:
        return RAMConfig()
    try:
        return RAMConfig.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise SemfidError(
            f"Cannot read the RAM config {path}: {exc}",
            hint="Give a JSON object with fields of semfid_bench.vision_language.ram.RAMConfig.",
        ) from exc


class DAPETagger:
    """SeeSR's DAPE: tags and image embeddings for LR images (a :class:`TagExtractor`)."""

    def __init__(self, model: torch.nn.Module, tags: list[str], thresholds: torch.Tensor) -> None:
        self.model = model.eval()
        self.tags = tags
        device = next(model.parameters()).device
        self.thresholds = thresholds.to(device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    @torch.no_grad()
    def __call__(self, lr: torch.Tensor) -> tuple[list[str], torch.Tensor]:
        size = self.model.config.image_size
        image = lr.to(self.mean.device, torch.float32)
        image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)
        image_embeds = self.model.image_embeddings((image - self.mean) / self.std)
        hits = torch.sigmoid(self.model.tag_logits(image_embeds)) > self.thresholds
        tags = [", ".join(self.tags[i] for i in row.nonzero().flatten().tolist()) for row in hits]
        return tags, image_embeds


def load_dape_tagger(
    ram: Path,
    dape: Path,
    tag_list: Path,
    tag_thresholds: Path,
    *,
    device: torch.device | str,
    config: RAMConfig | None = None,
) -> DAPETagger:
    """The DAPE tagger on ``device`` from RAM's checkpoint, DAPE's LoRA factors and RAM's tag
    list and thresholds; ``config`` (:class:`~semfid_bench.vision_language.ram.RAMConfig`) defaults
    to RAM Swin-L at 384 px."""
    from semfid_bench.vision_language.ram import RAM, RAMConfig
    from semfid_bench.vision_language.ram_weights import load_ram_weights

    config = config or RAMConfig()
    tags = _read_lines(Path(tag_list), config.num_tags, "tag list")
    thresholds = _read_lines(Path(tag_thresholds), config.num_tags, "tag thresholds")
    try:
        threshold_values = torch.tensor([float(value) for value in thresholds])
    except ValueError as exc:
        raise WeightsUnavailableError(f"{tag_thresholds} holds a non-number: {exc}") from exc
    model = RAM(config)
    load_ram_weights(
        model,
        load_state_dict(ram, exclude=_CAPTIONING, release=RAM_WEIGHTS),
        load_state_dict(dape),
        sources=(Path(ram), Path(dape)),
    )
    return DAPETagger(model.to(device), tags, threshold_values)
