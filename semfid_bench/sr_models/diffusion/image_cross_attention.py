"""SeeSR's image cross-attention, added to diffusers' own UNet and ControlNet classes.

SeeSR (cswry/SeeSR, ``models/unet_2d_blocks.py``) gives every cross-attention block of the
SD 2 UNet and of its ControlNet a second list of ``Transformer2DModel`` layers,
``image_attentions``, parallel to ``attentions``: after each text cross-attention layer the
hidden states cross-attend to RAM image embeddings (512-d). Here those layers are added to
unmodified diffusers models, under the same names (so the released state dicts load), and
run by a forward hook on the text attention they follow. The image embeddings are set for
the duration of a call with :func:`image_conditioning`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import torch

#: RAM's ``image_proj`` output width, the key/value width of SeeSR's image attention.
RAM_EMBED_DIM = 512


class _ImageStates:
    """Holder for the image embeddings of the current call."""

    def __init__(self) -> None:
        self.value: torch.Tensor | None = None


def _cross_attention_blocks(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    blocks = [*getattr(model, "down_blocks", []), getattr(model, "mid_block", None)]
    blocks += list(getattr(model, "up_blocks", []))
    for block in blocks:
        if block is not None and getattr(block, "attentions", None):
            yield block


def _image_attention_like(text_attention: torch.nn.Module, image_dim: int) -> torch.nn.Module:
    """A ``Transformer2DModel`` shaped like ``text_attention`` but attending to images."""
    from diffusers.models.transformers.transformer_2d import Transformer2DModel

    config = text_attention.config
    return Transformer2DModel(
        num_attention_heads=config.num_attention_heads,
        attention_head_dim=config.attention_head_dim,
        in_channels=config.in_channels,
        num_layers=config.num_layers,
        cross_attention_dim=image_dim,
        norm_num_groups=config.norm_num_groups,
        use_linear_projection=config.use_linear_projection,
        only_cross_attention=config.only_cross_attention,
        upcast_attention=config.upcast_attention,
        attention_type=config.attention_type,
    )


def _after_text_attention(image_attention, states: _ImageStates, module, args, kwargs, output):
    if states.value is None:
        raise RuntimeError(
            "SeeSR image cross-attention needs image embeddings: call the model "
            "inside image_conditioning(embeddings, model)"
        )
    hidden = output[0] if isinstance(output, tuple) else output.sample
    hidden = image_attention(
        hidden,
        encoder_hidden_states=states.value,
        cross_attention_kwargs=kwargs.get("cross_attention_kwargs"),
        return_dict=False,
    )[0]
    return (hidden, *output[1:]) if isinstance(output, tuple) else type(output)(sample=hidden)


def add_image_cross_attention(model: torch.nn.Module, image_dim: int = RAM_EMBED_DIM) -> None:
    """Give every cross-attention block of a diffusers UNet or ControlNet SeeSR's
    ``image_attentions`` and record it in the model's config (so ``save_pretrained``
    writes the authors' ``use_image_cross_attention`` flag)."""
    states = _ImageStates()
    model._seesr_image_states = states
    for block in _cross_attention_blocks(model):
        block.image_attentions = torch.nn.ModuleList(
            _image_attention_like(attention, image_dim) for attention in block.attentions
        )
        for text_attention, image_attention in zip(
            block.attentions, block.image_attentions, strict=True
        ):
            text_attention.register_forward_hook(
                partial(_after_text_attention, image_attention, states), with_kwargs=True
            )
    model.register_to_config(use_image_cross_attention=True, image_cross_attention_dim=image_dim)


@contextmanager
def image_conditioning(embeddings: torch.Tensor, *models: torch.nn.Module) -> Iterator[None]:
    """Within the block, ``models`` cross-attend to ``embeddings`` (B, tokens, image_dim)."""
    for model in models:
        model._seesr_image_states.value = embeddings
    try:
        yield
    finally:
        for model in models:
            model._seesr_image_states.value = None
