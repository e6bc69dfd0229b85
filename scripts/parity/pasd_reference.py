"""Regenerate tests/fixtures/parity/pasd_*: the PASD authors' UNet (pixel-aware
cross-attention) and ControlNet (degradation removal module) on seeded tiny weights.

Runs the authors' own modules (yangxy/PASD ``pasd/models/pasd/``) in the environment they
pinned (diffusers 0.29.2), with basicsr's RRDB as they import it (behind the usual shim for
its ``torchvision.transforms.functional_tensor`` import). Usage, with the repository exported
at COMMIT outside this one::

    python -m venv --system-site-packages /tmp/ref-venv-pasd
    /tmp/ref-venv-pasd/bin/pip install diffusers==0.29.2 huggingface_hub==0.25.2 \
        transformers==4.41.2
    HF_HOME=/tmp/hf /tmp/ref-venv-pasd/bin/python scripts/parity/pasd_reference.py \
        --ref /work/refs/PASD
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import torch
import torchvision.transforms.functional

sys.path.insert(0, str(Path(__file__).parent))
from seeded_init import save_fixture, seed_parameters

REPOSITORY = "yangxy/PASD"
COMMIT = "396f9ac24f9fa2b9787658bd9eea31729e51f264"
#: SD 1.5's UNet shape (conv projections, two layers per block, the last two blocks equally
#: wide: the authors' plain up block sizes every pixel attention by its own width), shrunk.
UNET_CONFIG = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "block_out_channels": [8, 16, 16],
    "layers_per_block": 2,
    "attention_head_dim": 2,
    "cross_attention_dim": 12,
    "norm_num_groups": 4,
}
CONTROLNET_EXTRA = {
    "conditioning_embedding_out_channels": [4, 4, 8, 8],
    "return_rgbs": True,
    "use_rrdb": True,
}
CONDITIONING_SCALE = 0.7
TIMESTEP = 601


def controlnet_config() -> dict:
    drop = ("up_block_types", "out_channels", "sample_size")
    return {k: v for k, v in UNET_CONFIG.items() if k not in drop} | CONTROLNET_EXTRA


def inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    return {
        "sample": torch.randn(1, 4, 8, 8, generator=generator),
        "text": torch.randn(1, 5, UNET_CONFIG["cross_attention_dim"], generator=generator),
        "lr_condition": torch.rand(1, 3, 64, 64, generator=generator),
    }


def _basicsr_shim() -> None:
    """basicsr 1.4.2 imports a torchvision module that no longer exists."""
    name = "torchvision.transforms.functional_tensor"
    shim = types.ModuleType(name)
    shim.rgb_to_grayscale = torchvision.transforms.functional.rgb_to_grayscale
    sys.modules.setdefault(name, shim)


#: a tiny SD VAE (the KL autoencoder's layout, shrunk), for the initial latents
VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
    "block_out_channels": [8, 16],
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 4,
    "sample_size": 32,
    "scaling_factor": 0.18215,
}
STEPS = 20
ADDED_NOISE_LEVEL = 900
LATENT_SEED = 7


def initial_latents(ref: Path, out: Path) -> None:
    """pasd/pipelines/pipeline_pasd.py prepare_latents (init from the LR latent, noised to
    the first timestep, then again to ``added_noise_level``) with test_pasd.py's defaults,
    on the authors' SD 1.5 scheduler config with UniPC, as test_pasd.py loads it."""
    import diffusers
    from diffusers import AutoencoderKL, UniPCMultistepScheduler
    from pasd.pipelines.pipeline_pasd import StableDiffusionControlNetPipeline

    base = ref / "checkpoints" / "stable-diffusion-v1-5"
    scheduler = UniPCMultistepScheduler.from_pretrained(base, subfolder="scheduler")
    vae = AutoencoderKL(**VAE_CONFIG).eval()
    seed_parameters(vae, seed=22)
    pipeline = types.SimpleNamespace(
        vae=vae, scheduler=scheduler, vae_scale_factor=2, device=torch.device("cpu")
    )
    options = types.SimpleNamespace(
        init_latent_with_noise=False,
        num_inference_steps=STEPS,
        added_noise_level=ADDED_NOISE_LEVEL,
        offset_noise_scale=0.0,
    )
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    generator = torch.Generator("cpu").manual_seed(LATENT_SEED)
    with torch.no_grad():
        latents = StableDiffusionControlNetPipeline.prepare_latents(
            pipeline, options, image, 1, 4, 32, 32, torch.float32, pipeline.device, generator
        )
    save_fixture(
        out,
        "pasd_initial_latents",
        {f"weights.vae.{k}": v for k, v in vae.state_dict().items()}
        | {"input.image": image, "output.latents": latents, "timesteps": scheduler.timesteps},
        {
            "source": {
                "repository": REPOSITORY,
                "commit": COMMIT,
                "function": "pasd/pipelines/pipeline_pasd.py StableDiffusionControlNetPipeline."
                "prepare_latents (init_latent_with_noise False, added_noise_level "
                f"{ADDED_NOISE_LEVEL}, {STEPS} steps) with UniPCMultistepScheduler from "
                "checkpoints/stable-diffusion-v1-5/scheduler, generator "
                f"torch.Generator('cpu').manual_seed({LATENT_SEED})",
                "environment": f"diffusers {diffusers.__version__}, torch {torch.__version__}",
                "script": "scripts/parity/pasd_reference.py",
            },
            "vae_config": VAE_CONFIG,
            "scheduler_config": {k: v for k, v in scheduler.config.items() if k[0] != "_"},
            "steps": STEPS,
            "added_noise_level": ADDED_NOISE_LEVEL,
            "seed": LATENT_SEED,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True, help=f"{REPOSITORY} at {COMMIT}")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/parity"))
    args = parser.parse_args()
    _basicsr_shim()
    sys.path.insert(0, str(args.ref))
    import diffusers
    from pasd.models.pasd.controlnet import ControlNetModel
    from pasd.models.pasd.unet_2d_condition import UNet2DConditionModel

    unet = UNet2DConditionModel(**UNET_CONFIG).eval()
    controlnet = ControlNetModel(**controlnet_config()).eval()
    seed_parameters(unet, seed=20)
    seed_parameters(controlnet, seed=21)
    x = inputs()
    with torch.no_grad():
        embedding, _ = controlnet.controlnet_cond_embedding(x["lr_condition"])
        _, down, mid = controlnet(
            x["sample"],
            TIMESTEP,
            encoder_hidden_states=x["text"],
            controlnet_cond=x["lr_condition"],
            conditioning_scale=CONDITIONING_SCALE,
            return_dict=False,
        )
        noise = unet(
            x["sample"],
            TIMESTEP,
            encoder_hidden_states=x["text"],
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
            return_dict=False,
        )[0]
    tensors = {f"weights.unet.{k}": v for k, v in unet.state_dict().items()}
    tensors |= {f"weights.controlnet.{k}": v for k, v in controlnet.state_dict().items()}
    tensors |= {f"input.{k}": v for k, v in x.items()}
    tensors |= {f"output.controlnet_down.{i}": r for i, r in enumerate(down)}
    tensors |= {
        "output.controlnet_mid": mid,
        "output.noise": noise,
        "output.degradation_removal": embedding,
    }
    initial_latents(args.ref, args.out)
    save_fixture(
        args.out,
        "pasd_controlnet_unet",
        tensors,
        {
            "source": {
                "repository": REPOSITORY,
                "commit": COMMIT,
                "function": "pasd/models/pasd/controlnet.py ControlNetConditioningEmbedding."
                "forward (the degradation removal module, with RRDBs) and ControlNetModel."
                "forward (LR condition, conditioning_scale), then pasd/models/pasd/"
                "unet_2d_condition.py UNet2DConditionModel.forward with the residuals (added "
                "to the skips and attended to by pixel_attentions in pasd/models/pasd/"
                "unet_2d_blocks.py)",
                "environment": f"diffusers {diffusers.__version__}, torch {torch.__version__}",
                "script": "scripts/parity/pasd_reference.py",
            },
            "unet_config": UNET_CONFIG,
            "controlnet_config": controlnet_config(),
            "conditioning_scale": CONDITIONING_SCALE,
            "timestep": TIMESTEP,
        },
    )


if __name__ == "__main__":
    main()
