"""PASD's pixel-aware cross-attention (PACA) and degradation removal module (DRM).

From yangxy/PASD ``pasd/models/pasd/``: every up block of the SD 1.5 UNet gets a list
``pixel_attentions`` with one ``Transformer2DModel`` per ResNet; after each ResNet (and its
text attention, where the block has one) the hidden states cross-attend to the ControlNet
residual that the same layer's skip connection receives, flattened to (B, h·w, C). The
ControlNet's conditioning embedding (the DRM) is diffusers' stack of convolutions plus
``to_rgbs`` heads (trained with multi-scale RGB losses, unused at inference) and, in the
``pasd_rrdb`` variant, two RRDB blocks after the first convolution.

Here PACA layers are added to an unmodified diffusers UNet under the authors' names and run
by forward hooks; the residuals are set per call with :func:`pixel_conditioning`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn


class _PixelStates:
    def __init__(self) -> None:
        self.value: Sequence[torch.Tensor] | None = None


def _pixel_attention(heads: int, channels: int, context_dim: int, like) -> nn.Module:
    from diffusers.models.transformers.transformer_2d import Transformer2DModel

    return Transformer2DModel(
        num_attention_heads=heads,
        attention_head_dim=channels // heads,
        in_channels=channels,
        num_layers=like.transformer_layers,
        cross_attention_dim=context_dim,
        norm_num_groups=like.norm_num_groups,
        use_linear_projection=like.use_linear_projection,
        upcast_attention=like.upcast_attention,
    )


class _UNetShape:
    """What the PACA layers of one UNet need to know about it."""

    def __init__(self, config) -> None:
        self.norm_num_groups = config.norm_num_groups
        self.use_linear_projection = config.use_linear_projection
        self.upcast_attention = config.upcast_attention
        layers = config.transformer_layers_per_block
        self.transformer_layers = layers if isinstance(layers, int) else layers[-1]
        heads = config.num_attention_heads or config.attention_head_dim
        count = len(config.block_out_channels)
        heads = [heads] * count if isinstance(heads, int) else list(heads)
        self.heads = list(reversed(heads))
        self.channels = list(reversed(config.block_out_channels))


def _after_layer(attention, states: _PixelStates, index: int, module, args, kwargs, output):
    if states.value is None:
        raise RuntimeError(
            "PASD pixel-aware attention needs the ControlNet residuals: call "
            "the UNet inside pixel_conditioning(residuals, unet)"
        )
    hidden = output[0] if isinstance(output, tuple) else output
    context = states.value[index].flatten(2).transpose(1, 2).to(hidden.dtype)
    hidden = attention(hidden, encoder_hidden_states=context, return_dict=False)[0]
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


def add_pixel_aware_attention(unet: nn.Module) -> None:
    """Give each up block of a diffusers UNet PASD's ``pixel_attentions``."""
    shape = _UNetShape(unet.config)
    states = _PixelStates()
    unet._pasd_pixel_states = states
    remaining = sum(len(block.resnets) for block in unet.up_blocks)
    for i, block in enumerate(unet.up_blocks):
        layers = len(block.resnets)
        out_ch = shape.channels[i]
        in_ch = shape.channels[min(i + 1, len(shape.channels) - 1)]
        has_text = bool(getattr(block, "attentions", None))
        attentions = []
        for j in range(layers):
            # The authors size the context by the skip connection in cross-attention
            # blocks and by the block's output channels in plain up blocks.
            context = (in_ch if j == layers - 1 else out_ch) if has_text else out_ch
            attentions.append(_pixel_attention(shape.heads[i], out_ch, context, shape))
        block.pixel_attentions = nn.ModuleList(attentions)
        hooked = block.attentions if has_text else block.resnets
        for j, (layer, attention) in enumerate(zip(hooked, attentions, strict=True)):
            index = remaining - 1 - j
            layer.register_forward_hook(
                partial(_after_layer, attention, states, index), with_kwargs=True
            )
        remaining -= layers
    unet.register_to_config(use_pixelwise_attention=True)


@contextmanager
def pixel_conditioning(residuals: Sequence[torch.Tensor], unet: nn.Module) -> Iterator[None]:
    """Within the block, the UNet's PACA layers attend to the ControlNet ``residuals``."""
    unet._pasd_pixel_states.value = list(residuals)
    try:
        yield
    finally:
        unet._pasd_pixel_states.value = None


class ResidualDenseBlock(nn.Module):
    """ESRGAN's residual dense block (5 convolutions, dense connections, 0.2 residual)."""

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        for k in range(5):
            out = channels if k == 4 else growth
            setattr(self, f"conv{k + 1}", nn.Conv2d(channels + k * growth, out, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for k in range(1, 5):
            conv = getattr(self, f"conv{k}")
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), 0.2))
        return self.conv5(torch.cat(features, 1)) * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks and a 0.2-scaled skip."""

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(channels, growth)
        self.rdb2 = ResidualDenseBlock(channels, growth)
        self.rdb3 = ResidualDenseBlock(channels, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class DegradationRemovalModule(nn.Module):
    """PASD's ControlNet conditioning embedding; returns the embedding only (the
    ``to_rgbs`` heads are training-time supervision and are kept just to load)."""

    def __init__(
        self,
        embedding_channels: int,
        conditioning_channels: int = 3,
        block_out_channels: Sequence[int] = (16, 32, 96, 256),
        return_rgbs: bool = True,
        use_rrdb: bool = False,
    ) -> None:
        super().__init__()
        first = block_out_channels[0]
        self.conv_in = nn.Conv2d(conditioning_channels, first, 3, padding=1)
        if use_rrdb:
            self.preprocesser = nn.Sequential(RRDB(first, first), RRDB(first, first))
        self.blocks = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for c_in, c_out in itertools.pairwise(block_out_channels):
            self.blocks.append(nn.Conv2d(c_in, c_in, 3, padding=1))
            self.blocks.append(nn.Conv2d(c_in, c_out, 3, padding=1, stride=2))
            if return_rgbs:
                self.to_rgbs.append(nn.Conv2d(c_out, 3, 3, padding=1))
        self.conv_out = nn.Conv2d(block_out_channels[-1], embedding_channels, 3, padding=1)

    def forward(self, conditioning: torch.Tensor) -> torch.Tensor:
        embedding = F.silu(self.conv_in(conditioning))
        if hasattr(self, "preprocesser"):
            embedding = self.preprocesser(embedding)
        for block in self.blocks:
            embedding = F.silu(block(embedding))
        return self.conv_out(embedding)
