"""Loading the golden parity fixtures (``tests/fixtures/parity/``): outputs of the authors'
own code on seeded tiny weights, written by the scripts in ``scripts/parity/``."""

from __future__ import annotations

import json
from pathlib import Path

import torch

PARITY = Path(__file__).parents[1] / "fixtures" / "parity"


def load_parity(name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, tensors in float32) of fixture ``name``; the metadata names its source."""
    from safetensors.torch import load_file

    meta = json.loads((PARITY / f"{name}.json").read_text())
    source = meta["source"]
    assert {"repository", "commit", "function"} <= set(source), source
    tensors = load_file(str(PARITY / f"{name}.safetensors"))
    return meta, {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}


def part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix.`` with the prefix removed (one model's state dict)."""
    return {k.removeprefix(f"{prefix}."): v for k, v in tensors.items() if k.startswith(prefix)}
