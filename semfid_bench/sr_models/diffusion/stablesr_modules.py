"""StableSR's modules that diffusers lacks, attached to diffusers' own UNet and VAE.

StableSR (IceClear/StableSR, CompVis latent-diffusion code) adds to SD 2.1-base:

- **SPADE in every UNet ResBlock** (``ResBlockDual``): the residual branch, after its last
  convolution and before the skip addition, is modulated by features of the LR latent
  (``normalized * (1 + gamma) + beta``). Here a :class:`SPADE` is set as ``resnet.spade`` on
  every ``ResnetBlock2D`` (so its keys are ``...resnets.N.spade.*``) and run by a forward
  hook on ``resnet.conv2``; the features are set per call with :func:`structure_conditioning`.
- **The time-aware encoder** (``EncoderUNetModelWT``): a half UNet on the LR latent,
  conditioned on the timestep, returning features keyed by their width.
  :class:`TimeAwareEncoder` has the authors' parameter names, so their keys load unchanged.
- **CFW** (``AutoencoderKLResi``): the VAE decoder fuses features of its own encoder (levels
  1 .. n-2, the last ResNet of each) into the decoder before each matching upsampler,
  weighted by ``w``. Here ``decoder.fusion_layer_{i}`` are added and run by hooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

#: SPADE's hidden width, fixed in the authors' code.
SPADE_HIDDEN = 128


class GroupNorm32(nn.GroupNorm):
    """LDM's ``normalization``: GroupNorm(32) computed in float32 and returned in the
    input's dtype. The authors cast only the input (``super().forward(x.float())``) since
    their weights stay float32 under autocast; ours may be cast to float16/bfloat16 with
    the model, so the affine parameters are upcast too (else: "mixed dtype")."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__(32, channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight.float(), self.bias.float()
        return F.group_norm(x.float(), self.num_groups, weight, bias, self.eps).type(x.dtype)


class SPADE(nn.Module):
    """Spatially adaptive modulation of ``x`` by ``segmap`` (instance of SPADE, 3×3)."""

    def __init__(self, channels: int, cond_channels: int) -> None:
        super().__init__()
        self.param_free_norm = GroupNorm32(channels)
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(cond_channels, SPADE_HIDDEN, 3, padding=1), nn.ReLU()
        )
        self.mlp_gamma = nn.Conv2d(SPADE_HIDDEN, channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(SPADE_HIDDEN, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        actv = self.mlp_shared(segmap.to(x.dtype))
        return self.param_free_norm(x) * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class _States:
    """Holder for the conditioning of the current call."""

    def __init__(self) -> None:
        self.value = None


def unet_resnets(unet: nn.Module) -> list[nn.Module]:
    """Every ``ResnetBlock2D`` of a diffusers UNet, in down, mid, up order."""
    blocks = [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    return [resnet for block in blocks for resnet in block.resnets]


def _spade_after_conv2(spade: SPADE, states: _States, module, args, output):
    if states.value is None:
        raise RuntimeError(
            "StableSR's UNet needs structure features: call it inside "
            "structure_conditioning(features, unet)"
        )
    return spade(output, states.value[str(output.shape[-1])])


def add_spade(unet: nn.Module, cond_channels: int) -> None:
    """Give every ResNet of ``unet`` StableSR's SPADE on its residual branch."""
    states = _States()
    unet._stablesr_structure = states
    for resnet in unet_resnets(unet):
        resnet.spade = SPADE(resnet.conv2.out_channels, cond_channels)
        resnet.conv2.register_forward_hook(partial(_spade_after_conv2, resnet.spade, states))
    unet.register_to_config(stablesr_spade_channels=cond_channels)


@contextmanager
def structure_conditioning(features: dict[str, torch.Tensor], unet: nn.Module) -> Iterator[None]:
    """Within the block, ``unet``'s SPADE layers read ``features`` (width → tensor)."""
    unet._stablesr_structure.value = features
    try:
        yield
    finally:
        unet._stablesr_structure.value = None


class TimestepResBlock(nn.Module):
    """LDM's ``ResBlock`` (no scale-shift norm), with its parameter names."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        self.in_layers = nn.Sequential(
            GroupNorm32(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1)
        )
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(
            GroupNorm32(out_channels),
            nn.SiLU(),
            nn.Dropout(0.0),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip_connection = (
            nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x) + self.emb_layers(emb).type(x.dtype)[..., None, None]
        return self.skip_connection(x) + self.out_layers(h)


class AttentionBlock(nn.Module):
    """LDM's ``AttentionBlock`` with the legacy QKV head split."""

    def __init__(self, channels: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm = GroupNorm32(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, *spatial = x.shape
        flat = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(flat))
        length = qkv.shape[-1]
        q, k, v = qkv.reshape(b * self.num_heads, -1, length).chunk(3, dim=1)
        scale = (c // self.num_heads) ** -0.25
        weight = torch.einsum("bct,bcs->bts", q * scale, k * scale)
        weight = weight.float().softmax(dim=-1).type(weight.dtype)
        h = torch.einsum("bts,bcs->bct", weight, v).reshape(b, -1, length)
        return (flat + self.proj_out(h)).reshape(b, c, *spatial)


class _Sequential(nn.ModuleList):
    """LDM's ``TimestepEmbedSequential``: passes the embedding to the blocks that take it."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, emb) if isinstance(layer, TimestepResBlock) else layer(x)
        return x


class _Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class TimeAwareEncoder(nn.Module):
    """StableSR's ``EncoderUNetModelWT`` (``structcond_stage_model``): features of the LR
    latent at every resolution of the UNet, for SPADE, keyed by their width."""

    def __init__(
        self,
        in_channels: int = 4,
        model_channels: int = 256,
        out_channels: int = 256,
        num_res_blocks: int = 2,
        attention_resolutions: tuple[int, ...] = (4, 2, 1),
        channel_mult: tuple[int, ...] = (1, 1, 2, 2),
        num_heads: int = 4,
    ) -> None:
        super().__init__()
        self.model_channels = model_channels
        emb = 4 * model_channels
        self.time_embed = nn.Sequential(
            nn.Linear(model_channels, emb), nn.SiLU(), nn.Linear(emb, emb)
        )
        self.input_blocks = nn.ModuleList(
            [_Sequential([nn.Conv2d(in_channels, model_channels, 3, padding=1)])]
        )
        feature_channels = []
        ch, ds = model_channels, 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [TimestepResBlock(ch, emb, mult * model_channels)]
                ch = mult * model_channels
                if ds in attention_resolutions:
                    layers.append(AttentionBlock(ch, num_heads))
                self.input_blocks.append(_Sequential(layers))
            if level != len(channel_mult) - 1:
                self.input_blocks.append(_Sequential([_Downsample(ch)]))
                feature_channels.append(ch)
                ds *= 2
        self.middle_block = _Sequential(
            [TimestepResBlock(ch, emb), AttentionBlock(ch, num_heads), TimestepResBlock(ch, emb)]
        )
        feature_channels.append(ch)
        self.fea_tran = nn.ModuleList(
            TimestepResBlock(c, emb, out_channels) for c in feature_channels
        )

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor) -> dict[str, torch.Tensor]:
        from diffusers.models.embeddings import get_timestep_embedding

        t_emb = get_timestep_embedding(
            timesteps, self.model_channels, flip_sin_to_cos=True, downscale_freq_shift=0
        )
        emb = self.time_embed(t_emb.to(x.dtype))
        features = []
        h = x
        for module in self.input_blocks:
            last = h
            h = module(h, emb)
            if h.shape[-1] != last.shape[-1]:
                features.append(last)
        features.append(self.middle_block(h, emb))
        return {
            str(f.shape[-1]): tran(f, emb) for f, tran in zip(features, self.fea_tran, strict=True)
        }


class VAEResBlock(nn.Module):
    """The ResBlock of StableSR's CFW (``ldm...model.ResBlock``): GroupNorm(32, eps 1e-6)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(32, in_channels, eps=1e-6)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(32, out_channels, eps=1e-6)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:
            self.conv_out = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.conv_out(x) if hasattr(self, "conv_out") else x)


class CFWFusion(nn.Module):
    """``Fuse_sft_block_RRDB``: decoder features + ``w`` × f(encoder ⊕ decoder features)."""

    def __init__(self, channels: int, num_blocks: int = 2, growth: int = 32) -> None:
        from semfid_bench.sr_models.diffusion.pixel_aware_attention import RRDB

        super().__init__()
        self.encode_enc_1 = VAEResBlock(2 * channels, channels)
        self.encode_enc_2 = nn.Sequential(*(RRDB(channels, growth) for _ in range(num_blocks)))
        self.encode_enc_3 = VAEResBlock(channels, channels)

    def forward(self, enc: torch.Tensor, dec: torch.Tensor, w: float) -> torch.Tensor:
        fused = self.encode_enc_3(self.encode_enc_2(self.encode_enc_1(torch.cat([enc, dec], 1))))
        return dec + w * fused


class _CFWStates:
    def __init__(self, weight: float) -> None:
        self.features: dict[int, torch.Tensor] = {}
        self.weight = weight
        self.active = False


def _keep_encoder_feature(states: _CFWStates, level: int, module, args, output):
    if states.active:
        states.features[level] = output


def _fuse_before_upsample(fusion: CFWFusion, states: _CFWStates, level: int, module, args):
    if not states.active:
        return None
    return (fusion(states.features[level], args[0], states.weight), *args[1:])


def fusion_levels(vae: nn.Module) -> list[int]:
    """The CFW levels: all but the first and the last resolution (1 and 2 in SD's VAE)."""
    return list(range(1, len(vae.config.block_out_channels) - 1))


def add_cfw(vae: nn.Module, weight: float = 0.5) -> None:
    """Give a diffusers ``AutoencoderKL`` StableSR's CFW fusion layers (``decoder.fusion_layer_
    {i}``); :func:`cfw_decode` then decodes with the encoder features of an image."""
    states = _CFWStates(weight)
    vae._stablesr_cfw = states
    n = len(vae.config.block_out_channels)
    for level in fusion_levels(vae):
        fusion = CFWFusion(vae.config.block_out_channels[level])
        setattr(vae.decoder, f"fusion_layer_{level}", fusion)
        vae.encoder.down_blocks[level].resnets[-1].register_forward_hook(
            partial(_keep_encoder_feature, states, level)
        )
        vae.decoder.up_blocks[n - 1 - level].upsamplers[0].register_forward_pre_hook(
            partial(_fuse_before_upsample, fusion, states, level)
        )


def cfw_decode(vae: nn.Module, latents: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Decode unscaled ``latents`` fusing the encoder features of ``image`` in [-1, 1]."""
    states = vae._stablesr_cfw
    states.active, states.features = True, {}
    try:
        vae.encoder(image)
        return vae.decoder(vae.post_quant_conv(latents))
    finally:
        states.active, states.features = False, {}
