"""RAM's and DAPE's released state dicts, mapped onto
:class:`~semfid_bench.vision_language.ram.RAM`.

``ram_swin_large_14m.pth`` holds the whole RAM (``visual_encoder``, ``tag_encoder``,
``text_decoder``, ``tagging_head``, ``label_embed``, ...) in the Microsoft Swin layout, where
a stage's ``downsample`` ends stage ``i``; timm runs it at the start of stage ``i + 1``. As
the authors' loader does, ``vision_multi`` is renamed ``tagging_head`` and the recomputed
buffers (``relative_position_index``, ``attn_mask``) are dropped.

``DAPE.pth`` holds only LoRA factors (SeeSR ``basicsr/models/dape_model.py`` saves the keys
containing ``lora_``), for loralib layers with rank 8 and ``lora_alpha`` 1: the Swin ``qkv``
(``MergedLinear`` with LoRA on q and v, not k) and the tagging head's cross-attention
``query`` and ``key`` (``Linear``). In eval mode loralib adds ``B @ A * alpha / r`` to each
weight; we add the same once, at load time. The authors tie the tagging head's weights to the
lowest layers of ``tag_encoder``, so both layers' LoRA factors are added to the shared weight.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.weights import telling_keys

_CAPTIONING_PREFIXES = ("tag_encoder.", "text_decoder.")
_TIED_LORA = re.compile(
    r"^tag_encoder\.(encoder\.layer\.(\d+)\.crossattention\.self\.(query|key))$"
)


def ram_state_dict(checkpoint: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our keys and tensors from the authors' RAM state dict (captioning parts dropped)."""
    converted = {}
    for key, value in checkpoint.items():
        key = key.replace("vision_multi", "tagging_head")
        if key.startswith(_CAPTIONING_PREFIXES) or key.endswith(
            ("relative_position_index", "attn_mask")
        ):
            continue
        key = re.sub(
            r"^visual_encoder\.layers\.(\d+)\.downsample",
            lambda m: f"visual_encoder.layers.{int(m[1]) + 1}.downsample",
            key,
        )
        converted[key] = value
    return converted


def _lora_target(module: str, tied_layers: int) -> str | None:
    """Our module a LoRA pair belongs to, or None for captioning parts we do not build."""
    tied = _TIED_LORA.match(module)
    if tied:
        return f"tagging_head.{tied[1]}" if int(tied[2]) < tied_layers else None
    if module.startswith(_CAPTIONING_PREFIXES):
        return None
    return module


def _lora_delta(lora_a: torch.Tensor, lora_b: torch.Tensor, merged_qkv: bool) -> torch.Tensor:
    groups = 2 if merged_qkv else 1
    rank = lora_a.shape[0] // groups
    parts = [b @ a for a, b in zip(lora_a.chunk(groups), lora_b.chunk(groups), strict=True)]
    delta = torch.cat(parts) / rank
    if merged_qkv:  # rows of q and v; k has no LoRA
        q, v = delta.chunk(2)
        delta = torch.cat([q, torch.zeros_like(q), v])
    return delta


def dape_weight_deltas(
    lora: dict[str, torch.Tensor], *, tied_layers: int, source: Path
) -> dict[str, torch.Tensor]:
    """``{our weight key: delta}`` that DAPE's LoRA factors add (see the module doc)."""
    modules_a = {k.removesuffix(".lora_A") for k in lora if k.endswith(".lora_A")}
    modules_b = {k.removesuffix(".lora_B") for k in lora if k.endswith(".lora_B")}
    if modules_a != modules_b:
        unpaired = sorted(modules_a ^ modules_b)[:5]
        raise WeightsUnavailableError(f"{source}: LoRA factors without their pair: {unpaired}")
    deltas: dict[str, torch.Tensor] = {}
    for module in sorted(modules_a):
        target = _lora_target(module, tied_layers)
        if target is None:
            continue
        delta = _lora_delta(
            lora[f"{module}.lora_A"].float(),
            lora[f"{module}.lora_B"].float(),
            merged_qkv=module.endswith("attn.qkv"),
        )
        key = f"{target}.weight"
        deltas[key] = deltas[key] + delta if key in deltas else delta
    if not any(key.startswith("visual_encoder.") for key in deltas):
        raise WeightsUnavailableError(
            f"{source} has no LoRA factors for RAM's image encoder: it is not SeeSR's DAPE.pth.",
            hint="Download DAPE.pth from the SeeSR authors (see docs/diffusion-models.md).",
        )
    return deltas


def load_ram_weights(model: torch.nn.Module, ram: dict, dape: dict, *, sources: tuple) -> None:
    """Load RAM's state dict into ``model`` strictly (every one of our keys, right shapes),
    then add DAPE's LoRA deltas. ``sources`` (RAM path, DAPE path) name the files in errors."""
    ram_source, dape_source = sources
    state = ram_state_dict(ram)
    ours = model.state_dict()
    missing = sorted(set(ours) - set(state))
    wrong = sorted(k for k in ours if k in state and state[k].shape != ours[k].shape)
    if missing or wrong:
        raise WeightsUnavailableError(
            f"{ram_source} does not match RAM's layout: {len(missing)} missing keys "
            f"{telling_keys(missing)}, {len(wrong)} keys of other shapes {telling_keys(wrong)}.",
            hint="Pass the RAM Swin-L checkpoint ram_swin_large_14m.pth with --set seesr.ram=PATH.",
        )
    tied_layers = len(model.tagging_head.encoder.layer)
    deltas = dape_weight_deltas(dape, tied_layers=tied_layers, source=dape_source)
    for key, delta in deltas.items():
        if key not in ours or ours[key].shape != delta.shape:
            raise WeightsUnavailableError(
                f"{dape_source}: LoRA factors for {key} do not fit RAM's layout."
            )
        state[key] = state[key].float() + delta
    model.load_state_dict({k: state[k] for k in ours})
