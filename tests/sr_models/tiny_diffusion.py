"""Tiny randomly initialised components of the real diffusers/transformers classes.

Same architectures as the published checkpoints, shrunk (32-64 channels, one layer per
block) so a few CPU denoising steps take a second. Built offline: the CLIP tokenizer gets a
byte-level vocabulary without merges.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

CROSS_DIM = 32


def tiny_tokenizer() -> CLIPTokenizer:
    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)}
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def tiny_text_encoder(vocab_size: int) -> CLIPTextModel:
    torch.manual_seed(0)
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=CROSS_DIM,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=77,
        projection_dim=CROSS_DIM,
    )
    return CLIPTextModel(config).eval()


def tiny_vae(down_blocks: int, scaling_factor: float = 0.18215, sample_size: int = 32):
    """AutoencoderKL with ``down_blocks`` blocks: downsamples by 2 ** (down_blocks - 1)."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * down_blocks,
        up_block_types=("UpDecoderBlock2D",) * down_blocks,
        block_out_channels=(32,) * (down_blocks - 1) + (64,),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=sample_size,
        scaling_factor=scaling_factor,
    ).eval()


def tiny_unet(**overrides):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    config = dict(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=CROSS_DIM,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    config.update(overrides)
    return UNet2DConditionModel(**config).eval()


#: ControlNet parameters diffusers (like the paper) initialises to zero, so that an untrained
#: ControlNet adds nothing; a tiny random ControlNet must have them non-zero to be tested.
CONTROLNET_ZERO_INIT = (
    "controlnet_down_blocks.",
    "controlnet_mid_block.",
    "controlnet_cond_embedding.conv_out.",
)


def wake_controlnet(controlnet: torch.nn.Module, seed: int, std: float = 0.5) -> None:
    """Seeded non-zero init of the ControlNet's zero-initialised outputs (the residual
    projections and the conditioning embedding's last convolution)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in controlnet.named_parameters():
            if name.startswith(CONTROLNET_ZERO_INIT):
                param.copy_(std * torch.randn(param.shape, generator=generator))


def write_tiny_seesr(root: Path, image_dim: int) -> Path:
    """SD 2-base-like components and SeeSR's UNet/ControlNet (image attention ``image_dim``
    wide), tiny, in the authors' layout: base/{vae,text_encoder,tokenizer,scheduler},
    seesr/{unet,controlnet}."""
    from diffusers import ControlNetModel, DDPMScheduler

    from semfid_bench.sr_models.diffusion.image_cross_attention import add_image_cross_attention

    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(root / "base" / "tokenizer")
    tiny_text_encoder(len(tokenizer)).save_pretrained(root / "base" / "text_encoder")
    tiny_vae(down_blocks=4).save_pretrained(root / "base" / "vae")
    DDPMScheduler(beta_schedule="scaled_linear", steps_offset=1).save_pretrained(
        root / "base" / "scheduler"
    )
    unet = tiny_unet()
    torch.manual_seed(2)
    controlnet = ControlNetModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        cross_attention_dim=CROSS_DIM,
        attention_head_dim=8,
        conditioning_embedding_out_channels=(16, 16, 32, 32),
    )
    for model in (unet, controlnet):
        add_image_cross_attention(model, image_dim)
        for name, param in model.named_parameters():  # image attention must matter
            if "image_attentions" in name and "to_out" in name:
                torch.nn.init.normal_(param, std=0.2)
    wake_controlnet(controlnet, seed=4)
    unet.save_pretrained(root / "seesr" / "unet")
    controlnet.save_pretrained(root / "seesr" / "controlnet")
    return root
