"""What the diffusion SR models (SD x4, SeeSR, PASD, StableSR) and the inpainting dataset
builder share: the weight precision they run in and the seed of their noise."""

from __future__ import annotations

import torch

from semfid_bench.plugin_api.seeding import derive_seed


def torch_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` → float16 on CUDA, float32 elsewhere; else ``float16``/``float32``/``bfloat16``."""
    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    try:
        return {"float16": torch.float16, "float32": torch.float32, "bfloat16": torch.bfloat16}[
            name
        ]
    except KeyError:
        raise ValueError(
            f"dtype must be auto, float16, float32 or bfloat16, not {name!r}"
        ) from None


def sampling_seed(run_seed: int, model_seed: int) -> int:
    """The seed of a model's noise: the run's per-item seed, re-drawn by a nonzero ``seed``
    option (new samples without changing the degradations, which share the run seed)."""
    return run_seed if model_seed == 0 else derive_seed(run_seed, "sampling", model_seed)
