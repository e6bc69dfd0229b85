"""Shared by the parity scripts: seeded weights for tiny reference models, and saving.

Runs in the reference code's environment (old diffusers/transformers pinned by the authors),
so it imports only torch, numpy and safetensors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file


def seed_parameters(model: torch.nn.Module, seed: int) -> None:
    """Overwrite every parameter with seeded values, in sorted-name order (nothing is left
    from the unseeded default init): weight matrices and kernels N(0, 1/fan_in), norm scales
    (1-d ``weight``) 1 + N(0, 0.1²), other vectors (biases) N(0, 0.1²).
    Nothing stays zero, so zero-initialised outputs (ControlNet projections) take part.
    Values are rounded to float16 so the fixtures can store them in half the space, exactly."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            noise = torch.randn(param.shape, generator=generator)
            if param.ndim >= 2:
                param.copy_(noise / math.sqrt(param[0].numel()))
            else:
                param.copy_(0.1 * noise + float(name.endswith("weight")))
            param.copy_(param.half().float())


def save_fixture(
    out: Path, name: str, tensors: dict[str, torch.Tensor], meta: dict
) -> tuple[Path, Path]:
    """``name.safetensors`` and ``name.json`` (``meta``). Tensors named ``weights.*`` are
    stored as float16 (exact for :func:`seed_parameters`' values), the rest as given."""
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    for key, value in tensors.items():
        if key.startswith("weights.") and value.is_floating_point():
            if not torch.equal(value.half().float(), value):
                raise ValueError(f"{key} is not exact in float16")
            tensors[key] = value.half()
    weights = out / f"{name}.safetensors"
    save_file(tensors, str(weights))
    info = out / f"{name}.json"
    info.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return weights, info
