"""Regenerate tests/fixtures/parity/seesr_*: the SeeSR authors' UNet and ControlNet on
seeded tiny weights and inputs.

Runs the authors' own modules (cswry/SeeSR ``models/controlnet.py`` and
``models/unet_2d_condition.py`` with their copy of the diffusers blocks) in the environment
they pinned (diffusers 0.21.0). Usage, with the repository exported at COMMIT outside this
one::

    python -m venv --system-site-packages /tmp/ref-venv-seesr
    /tmp/ref-venv-seesr/bin/pip install diffusers==0.21.0 huggingface_hub==0.25.2 \
        transformers==4.25.0 loralib
    HF_HOME=/tmp/hf /tmp/ref-venv-seesr/bin/python scripts/parity/seesr_reference.py \
        --ref /work/refs/SeeSR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from seeded_init import save_fixture, seed_parameters

REPOSITORY = "cswry/SeeSR"
COMMIT = "8edecc71c4f3efa01cd26078f2e8dffd1ce80a6a"
#: SD 2-base's UNet shape (linear projections, per-block heads), shrunk; the authors'
#: image cross-attention is 512 wide (RAM's image_proj), fixed in their blocks.
UNET_CONFIG = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "block_out_channels": [8, 16],
    "layers_per_block": 1,
    "attention_head_dim": [2, 4],
    "cross_attention_dim": 12,
    "norm_num_groups": 4,
    "use_linear_projection": True,
    "use_image_cross_attention": True,
}
CONTROLNET_EXTRA = {"conditioning_embedding_out_channels": [4, 4, 8, 8]}
CONDITIONING_SCALE = 0.7
TIMESTEP = 601


def controlnet_config() -> dict:
    config = {
        k: v
        for k, v in UNET_CONFIG.items()
        if k not in ("up_block_types", "out_channels", "sample_size")
    }
    return config | CONTROLNET_EXTRA


def inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {
        "sample": torch.randn(1, 4, 4, 4, generator=generator),
        "text": torch.randn(1, 5, UNET_CONFIG["cross_attention_dim"], generator=generator),
        "image_embeds": torch.randn(1, 1 + 9, 512, generator=generator),
        "lr_condition": torch.rand(1, 3, 32, 32, generator=generator),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True, help=f"{REPOSITORY} at {COMMIT}")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/parity"))
    args = parser.parse_args()
    sys.path.insert(0, str(args.ref))
    import diffusers
    from models.controlnet import ControlNetModel
    from models.unet_2d_condition import UNet2DConditionModel

    unet = UNet2DConditionModel(**UNET_CONFIG).eval()
    controlnet = ControlNetModel(**controlnet_config()).eval()
    seed_parameters(unet, seed=10)
    seed_parameters(controlnet, seed=11)
    x = inputs()
    with torch.no_grad():
        down, mid = controlnet(
            x["sample"],
            TIMESTEP,
            encoder_hidden_states=x["text"],
            controlnet_cond=x["lr_condition"],
            conditioning_scale=CONDITIONING_SCALE,
            image_encoder_hidden_states=x["image_embeds"],
            return_dict=False,
        )
        noise = unet(
            x["sample"],
            TIMESTEP,
            encoder_hidden_states=x["text"],
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
            image_encoder_hidden_states=x["image_embeds"],
            return_dict=False,
        )[0]
        plain = unet(
            x["sample"],
            TIMESTEP,
            encoder_hidden_states=x["text"],
            image_encoder_hidden_states=x["image_embeds"],
            return_dict=False,
        )[0]
    tensors = {f"weights.unet.{k}": v for k, v in unet.state_dict().items()}
    tensors |= {f"weights.controlnet.{k}": v for k, v in controlnet.state_dict().items()}
    tensors |= {f"input.{k}": v for k, v in x.items()}
    tensors |= {f"output.controlnet_down.{i}": r for i, r in enumerate(down)}
    tensors |= {"output.controlnet_mid": mid, "output.noise": noise, "output.unet_alone": plain}
    save_fixture(
        args.out,
        "seesr_controlnet_unet",
        tensors,
        {
            "source": {
                "repository": REPOSITORY,
                "commit": COMMIT,
                "function": "models/controlnet.py ControlNetModel.forward (LR condition, "
                "conditioning_scale, image_encoder_hidden_states), then "
                "models/unet_2d_condition.py UNet2DConditionModel.forward with its residuals "
                "(output.noise) and without (output.unet_alone)",
                "environment": f"diffusers {diffusers.__version__}, torch {torch.__version__}",
                "script": "scripts/parity/seesr_reference.py",
            },
            "unet_config": UNET_CONFIG,
            "controlnet_config": controlnet_config(),
            "conditioning_scale": CONDITIONING_SCALE,
            "timestep": TIMESTEP,
        },
    )


if __name__ == "__main__":
    main()
