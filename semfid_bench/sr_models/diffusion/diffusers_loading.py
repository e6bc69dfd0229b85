"""Loading diffusers-format model folders whose classes we extend (SeeSR, PASD).

A released ``unet/`` or ``controlnet/`` folder holds ``config.json`` and
``diffusion_pytorch_model.safetensors`` (or ``.bin``). Our models are diffusers classes
built from that config plus the authors' extra modules, so the stock ``from_pretrained``
cannot load them: this builds the module tree, then loads the state dict strictly and
names every key that does not fit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.weights import key_mismatch, load_state_dict

WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


def read_config(folder: Path) -> dict:
    """The ``config.json`` of a diffusers model folder."""
    path = Path(folder) / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsUnavailableError(f"Cannot read model config {path}: {exc}") from exc


def load_model_folder(
    folder: Path, build: Callable[[dict], torch.nn.Module], what: str
) -> torch.nn.Module:
    """``build(config)`` with the folder's weights loaded; every key must match."""
    folder = Path(folder)
    model = build(read_config(folder))
    weights = next((folder / n for n in WEIGHT_NAMES if (folder / n).is_file()), None)
    if weights is None:
        raise WeightsUnavailableError(
            f"{folder} holds no {' or '.join(WEIGHT_NAMES)} for the {what}."
        )
    return load_strict(model, load_state_dict(weights), what, str(weights))


def load_strict(model: torch.nn.Module, state: dict, what: str, source: str) -> torch.nn.Module:
    """Load ``state`` into ``model``; every key must fit, else an error names ``source``."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise WeightsUnavailableError(f"{source} does not fit the {what}: {exc}") from exc
    if result.missing_keys or result.unexpected_keys:
        raise key_mismatch(
            source,
            what,
            result.missing_keys,
            result.unexpected_keys,
            "the authors' release file for this model",
        )
    return model.eval()
