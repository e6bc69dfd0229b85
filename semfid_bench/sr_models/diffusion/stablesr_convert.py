"""StableSR's CompVis checkpoints → diffusers modules plus :mod:`stablesr_modules`.

``stablesr_000117.ckpt`` holds ``model.diffusion_model.*`` (the SD 2.1 UNet with SPADE),
``first_stage_model.*`` (SD's VAE), ``cond_stage_model.model.*`` (OpenCLIP ViT-H text) and
``structcond_stage_model.*`` (the time-aware encoder); ``vqgan_cfw_00011.ckpt`` holds the
CFW autoencoder (``encoder.*``, ``decoder.*`` with ``decoder.fusion_layer_*``). The standard
parts go through diffusers' single-file converters; SPADE keys land under the diffusers
ResNet they belong to; fusion and encoder keys keep their names. Every architecture size is
read from the tensors' shapes (so a smaller model of the same layout loads the same way),
except the attention head widths, which are the authors' config values.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from semfid_bench.plugin_api.errors import WeightsUnavailableError

UNET = "model.diffusion_model."
VAE = "first_stage_model."
TEXT = "cond_stage_model.model."
STRUCT = "structcond_stage_model."
#: ``num_head_channels`` of the UNet and ``num_heads`` of the time-aware encoder
#: (``configs/stableSRNew/v2-finetune_text_T_512.yaml``).
UNET_HEAD_CHANNELS = 64
ENCODER_HEADS = 4
#: ``scale_factor`` of the same config.
SCALE_FACTOR = 0.18215
#: ``first_stage_config.ddconfig.resolution`` of the same config (and of
#: ``configs/autoencoder/autoencoder_kl_64x64x4_resi.yaml``): diffusers' ``sample_size``,
#: which also sets the tile of its VAE tiling (diffusers' default is 32).
VAE_RESOLUTION = 512


def _strip(state: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def require_part(state: dict, prefix: str, what: str, source: str) -> dict:
    part = _strip(state, prefix)
    if not part:
        raise WeightsUnavailableError(
            f"{source} has no {prefix}* keys ({what}): it is not a StableSR checkpoint.",
            hint="Pass stablesr_000117.ckpt / vqgan_cfw_00011.ckpt from Iceclear/StableSR.",
        )
    return part


def ldm_levels(state: dict, attention_marker: str) -> list[tuple[int, int, bool]]:
    """(channels, ResBlocks, has attention) per level of an LDM ``input_blocks`` stack."""
    indices = sorted(
        {int(m.group(1)) for k in state if (m := re.match(r"input_blocks\.(\d+)\.", k))}
    )
    levels, blocks, attention, channels = [], 0, False, 0
    for i in indices[1:]:
        if f"input_blocks.{i}.0.op.weight" in state:
            levels.append((channels, blocks, attention))
            blocks, attention = 0, False
            continue
        channels = state[f"input_blocks.{i}.0.in_layers.2.weight"].shape[0]
        blocks += 1
        attention |= f"input_blocks.{i}.1.{attention_marker}.weight" in state
    levels.append((channels, blocks, attention))
    return levels


def unet_config(unet_state: dict) -> dict:
    """diffusers ``UNet2DConditionModel`` config of an LDM SD 2.x UNet state dict."""
    levels = ldm_levels(unet_state, "proj_in")
    channels = [c for c, _, _ in levels]
    cross = next(v.shape[1] for k, v in unet_state.items() if k.endswith("attn2.to_k.weight"))
    proj_in = next(v for k, v in unet_state.items() if k.endswith(".proj_in.weight"))
    return {
        "sample_size": 64,
        "in_channels": unet_state["input_blocks.0.0.weight"].shape[1],
        "out_channels": unet_state["out.2.weight"].shape[0],
        "block_out_channels": channels,
        "layers_per_block": levels[0][1],
        "down_block_types": [
            "CrossAttnDownBlock2D" if attn else "DownBlock2D" for _, _, attn in levels
        ],
        "up_block_types": [
            "CrossAttnUpBlock2D" if attn else "UpBlock2D" for _, _, attn in reversed(levels)
        ],
        "cross_attention_dim": cross,
        "attention_head_dim": [max(c // UNET_HEAD_CHANNELS, 1) for c in channels],
        "use_linear_projection": proj_in.ndim == 2,
        "norm_num_groups": 32,
    }


def _spade_keys(unet_state: dict, config: dict) -> dict:
    """LDM ``...spade.*`` keys renamed to the diffusers ResNet that holds them."""
    per_level = config["layers_per_block"]
    n_levels = len(config["block_out_channels"])
    resnets = {"middle_block.0": "mid_block.resnets.0", "middle_block.2": "mid_block.resnets.1"}
    for level in range(n_levels):
        for j in range(per_level):
            resnets[f"input_blocks.{1 + level * (per_level + 1) + j}.0"] = (
                f"down_blocks.{level}.resnets.{j}"
            )
        for j in range(per_level + 1):
            resnets[f"output_blocks.{level * (per_level + 1) + j}.0"] = (
                f"up_blocks.{level}.resnets.{j}"
            )
    out = {}
    for key, value in unet_state.items():
        if ".spade." in key:
            block, rest = key.split(".spade.", 1)
            out[f"{resnets[block]}.spade.{rest}"] = value
    return out


def convert_unet(state: dict, source: str = "checkpoint") -> tuple[dict, dict]:
    """(diffusers config, converted state dict) of the SPADE UNet in ``state``."""
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    unet_state = require_part(state, UNET, "the UNet", source)
    config = unet_config(unet_state)
    plain = {UNET + k: v for k, v in unet_state.items() if ".spade." not in k}
    converted = convert_ldm_unet_checkpoint(plain, config)
    return config, {**converted, **_spade_keys(unet_state, config)}


def vae_config(vae_state: dict) -> dict:
    """diffusers ``AutoencoderKL`` config of an LDM KL autoencoder state dict."""
    n = 1 + max(int(k.split(".")[2]) for k in vae_state if k.startswith("encoder.down."))
    blocks = {int(k.split(".")[4]) for k in vae_state if k.startswith("encoder.down.0.block.")}
    return {
        "in_channels": vae_state["encoder.conv_in.weight"].shape[1],
        "out_channels": vae_state["decoder.conv_out.weight"].shape[0],
        "down_block_types": ["DownEncoderBlock2D"] * n,
        "up_block_types": ["UpDecoderBlock2D"] * n,
        "block_out_channels": [
            vae_state[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] for i in range(n)
        ],
        "layers_per_block": len(blocks),
        "latent_channels": vae_state["post_quant_conv.weight"].shape[0],
        "norm_num_groups": 32,
        "sample_size": VAE_RESOLUTION,
        "scaling_factor": SCALE_FACTOR,
        "force_upcast": True,
    }


def convert_vae(vae_state: dict) -> tuple[dict, dict]:
    """(diffusers config, converted state dict) of an LDM KL autoencoder, plus the CFW
    ``decoder.fusion_layer_*`` keys under their own names."""
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    config = vae_config(vae_state)
    model_keys = ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.")
    plain = {
        k: v for k, v in vae_state.items() if k.startswith(model_keys) and ".fusion_layer_" not in k
    }
    converted = convert_ldm_vae_checkpoint(plain, config)
    fusion = {k: v for k, v in vae_state.items() if k.startswith("decoder.fusion_layer_")}
    return config, {**converted, **fusion}


def text_config(state: dict) -> dict:
    """``CLIPTextConfig`` of the OpenCLIP text tower, cut before its last layer (SD 2's
    penultimate-layer conditioning)."""
    text = _strip(state, TEXT)
    embedding = text["token_embedding.weight"]
    layers = {int(k.split(".")[2]) for k in text if k.startswith("transformer.resblocks.")}
    return {
        "vocab_size": embedding.shape[0],
        "hidden_size": embedding.shape[1],
        "intermediate_size": text["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        "num_attention_heads": embedding.shape[1] // 64,
        "num_hidden_layers": len(layers) - 1,
        "max_position_embeddings": text["positional_embedding"].shape[0],
        "projection_dim": text["text_projection"].shape[1],
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
    }


def convert_text(state: dict, config: dict, source: str = "checkpoint") -> dict:
    """OpenCLIP text weights as ``CLIPTextModel`` keys, without the unused last layer."""
    from diffusers.loaders.single_file_utils import convert_open_clip_checkpoint

    require_part(state, TEXT, "the OpenCLIP text encoder", source)
    last = f"{TEXT}transformer.resblocks.{config['num_hidden_layers']}."
    kept = {
        k: v
        for k, v in state.items()
        if k.startswith(TEXT)
        and not k.startswith(last)
        and k not in (TEXT + "text_projection", TEXT + "logit_scale")
    }

    model = SimpleNamespace(config=SimpleNamespace(hidden_size=config["hidden_size"]))
    return convert_open_clip_checkpoint(model, kept, prefix=TEXT)


def encoder_config(struct_state: dict) -> dict:
    """:class:`TimeAwareEncoder` arguments of a ``structcond_stage_model`` state dict."""
    levels = ldm_levels(struct_state, "qkv")
    model_channels = struct_state["input_blocks.0.0.weight"].shape[0]
    return {
        "in_channels": struct_state["input_blocks.0.0.weight"].shape[1],
        "model_channels": model_channels,
        "out_channels": struct_state["fea_tran.0.out_layers.3.weight"].shape[0],
        "num_res_blocks": levels[0][1],
        "attention_resolutions": tuple(2**i for i, (_, _, a) in enumerate(levels) if a),
        "channel_mult": tuple(c // model_channels for c, _, _ in levels),
        "num_heads": ENCODER_HEADS,
    }
