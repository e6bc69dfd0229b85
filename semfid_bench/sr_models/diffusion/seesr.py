"""SeeSR (Wu et al., CVPR 2024): semantics-aware real-world SR on Stable Diffusion 2-base.

Our reimplementation of the authors' inference (cswry/SeeSR ``test_seesr.py`` and
``pipelines/pipeline_seesr.py``) on diffusers components:

- SD 2-base's VAE, CLIP text encoder, tokenizer and scheduler config (DDPM sampling);
- SeeSR's UNet and ControlNet: diffusers' classes plus the image cross-attention of
  :mod:`~semfid_bench.sr_models.diffusion.image_cross_attention`, loaded from the released folders;
- the DAPE tagger (RAM fine-tuned on degraded images) gives tags for the prompt and image
  embeddings for the image cross-attention (:mod:`~semfid_bench.vision_language.dape`);
- LR embedding (LRE): sampling starts from the LR latent noised to step 999, not from noise;
- tiled latent denoising, AdaIN (default) or wavelet colour fix.

The LR image goes through the authors' chain of PIL resizes on 8-bit images (enlarge
images whose short side is below ``process_size / 4``, upscale 4×, snap to multiples of 8),
is restored, and the 8-bit result is resized back to 4× the LR (:func:`authors_output`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from semfid_bench.datasets.images import quantize
from semfid_bench.plugin_api.weights import hf_snapshot, local_weights, locate_all
from semfid_bench.sr_models.diffusion.common import torch_dtype
from semfid_bench.sr_models.diffusion.controlnet_sr import ControlNetSR, authors_output, pil_resize
from semfid_bench.sr_models.diffusion.image_cross_attention import (
    RAM_EMBED_DIM,
    add_image_cross_attention,
    image_conditioning,
)

BASE_REPO = "stabilityai/stable-diffusion-2-base"
SEESR_SOURCE = (
    "the SeeSR release folder 'seesr' (with unet/ and controlnet/) from the authors' Google "
    "Drive https://drive.google.com/drive/folders/12HXrRGEXUAnmHRaf0bIn-S8XSK4Ku0JO"
)
BASE_PATTERNS = [
    "model_index.json",
    "scheduler/*",
    "tokenizer/*",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]


def build_seesr_unet(config: dict) -> torch.nn.Module:
    """SeeSR's UNet: diffusers' ``UNet2DConditionModel`` with image cross-attention."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_config(_diffusers_config(config))
    add_image_cross_attention(unet, config.get("image_cross_attention_dim", RAM_EMBED_DIM))
    return unet


def build_seesr_controlnet(config: dict) -> torch.nn.Module:
    """SeeSR's ControlNet (the LR branch): diffusers' ``ControlNetModel`` with image
    cross-attention; its conditioning is the bicubically upscaled LR image in [0, 1]."""
    from diffusers import ControlNetModel

    controlnet = ControlNetModel.from_config(_diffusers_config(config))
    add_image_cross_attention(controlnet, config.get("image_cross_attention_dim", RAM_EMBED_DIM))
    return controlnet


def _diffusers_config(config: dict) -> dict:
    extra = ("use_image_cross_attention", "image_cross_attention_dim")
    return {k: v for k, v in config.items() if k not in extra}


def process_input(lr: torch.Tensor, scale: int, process_size: int) -> torch.Tensor:
    """The authors' input (``test_seesr.py``), PIL resizes of the 8-bit image: enlarge so
    the short side is ≥ process_size/scale, upscale by ``scale``, then resize to both sides
    snapped down to multiples of 8."""
    image = quantize(lr)
    height, width = image.shape[-2:]
    short = process_size // scale
    if min(height, width) < short:
        factor = short / min(height, width)
        image = pil_resize(image, int(factor * height), int(factor * width))
    height, width = image.shape[-2] * scale, image.shape[-1] * scale
    image = pil_resize(image, height, width)
    return pil_resize(image, height // 8 * 8, width // 8 * 8)


class SeeSR(ControlNetSR):
    """SeeSR with the authors' defaults (``test_seesr.py``): 50 DDPM steps, guidance 5.5,
    added prompt "clean, high-resolution, 8k", negative prompt "dotted, noise, blur, lowres,
    smooth", process size 512, LR-embedding start at step 999, AdaIN colour fix, latent
    tiles of 96 with overlap 4.

    :param weights: folder of the SeeSR release (``unet/``, ``controlnet/``).
    :param base: local copy of ``stabilityai/stable-diffusion-2-base`` (else the HF cache).
    :param tagger: ``dape`` (RAM + DAPE, see :mod:`~semfid_bench.vision_language.dape`) or an
        object mapping LR images to (tags, image embeddings).
    :param ram, dape, tag_list, tag_thresholds: local copies of RAM's checkpoint, DAPE.pth
        and RAM's tag list and thresholds (else RAM's files are downloaded into the cache).
    :param ram_config: JSON file of :class:`~semfid_bench.vision_language.ram.RAMConfig` fields
        (default: RAM Swin-L at 384 px, the DAPE that SeeSR released).
    """

    @staticmethod
    def weight_files(
        weights: str | None = None,
        base: str | None = None,
        tagger: object = "dape",
        ram: str | None = None,
        dape: str | None = None,
        tag_list: str | None = None,
        tag_thresholds: str | None = None,
        **_: object,
    ) -> dict[str, Callable[[], Path]]:
        """Every file a run with these options loads (for ``prefetch`` and ``doctor``)."""
        lookups = {
            "seesr": lambda: local_weights(
                weights,
                what="SeeSR UNet and ControlNet",
                source=SEESR_SOURCE,
                option="--set seesr.weights=DIR",
                expect=("unet/config.json", "controlnet/config.json"),
            ),
            "base": lambda: hf_snapshot(
                BASE_REPO, base, option="--set seesr.base=DIR", allow_patterns=BASE_PATTERNS
            ),
        }
        if tagger == "dape":
            from semfid_bench.vision_language.dape import dape_weight_lookups

            lookups |= dape_weight_lookups(ram, dape, tag_list, tag_thresholds)
        return lookups

    def __init__(
        self,
        scale: int = 4,
        device: torch.device | str = "cpu",
        *,
        weights: str | None = None,
        base: str | None = None,
        tagger: object = "dape",
        ram: str | None = None,
        dape: str | None = None,
        tag_list: str | None = None,
        tag_thresholds: str | None = None,
        ram_config: str | None = None,
        steps: int = 50,
        guidance: float = 5.5,
        conditioning_scale: float = 1.0,
        prompt: str = "",
        added_prompt: str = "clean, high-resolution, 8k",
        negative_prompt: str = "dotted, noise, blur, lowres, smooth",
        process_size: int = 512,
        start_point: str = "lr",
        start_step: int = 999,
        colour_fix: str = "adain",
        tile: int = 96,
        tile_overlap: int = 4,
        dtype: str = "auto",
        seed: int = 0,
    ) -> None:
        if int(scale) != 4:
            raise ValueError(f"SeeSR was trained for x4, not x{scale}")
        if start_point not in ("lr", "noise"):
            raise ValueError(f"start_point must be lr or noise, not {start_point!r}")
        if tagger != "dape" and not callable(tagger):
            raise ValueError(f"tagger must be dape or a callable, not {tagger!r}")
        from diffusers import DDPMScheduler

        self.scale = 4
        self.device = torch.device(device)
        self.dtype = torch_dtype(dtype, self.device)
        self.steps, self.guidance = int(steps), float(guidance)
        self.conditioning_scale = float(conditioning_scale)
        self.prompt, self.added_prompt = str(prompt), str(added_prompt)
        self.negative_prompt = str(negative_prompt)
        self.process_size, self.start_point = int(process_size), start_point
        self.start_step, self.colour_fix = int(start_step), colour_fix
        self.tile, self.tile_overlap, self.seed = int(tile), int(tile_overlap), int(seed)

        lookups = self.weight_files(weights, base, tagger, ram, dape, tag_list, tag_thresholds)
        if tagger == "dape":
            from semfid_bench.vision_language.dape import load_dape_tagger, read_ram_config

            dape_config = read_ram_config(ram_config)
        paths = locate_all(lookups)
        if tagger == "dape":
            tagger = load_dape_tagger(
                paths["ram"],
                paths["dape"],
                paths["tag_list"],
                paths["tag_thresholds"],
                device=self.device,
                config=dape_config,
            )
        self.tagger = tagger
        folder, base_dir = paths["seesr"], paths["base"]
        self.scheduler = DDPMScheduler.from_pretrained(base_dir, subfolder="scheduler")
        self._load_components(base_dir, folder, build_seesr_unet, build_seesr_controlnet, "SeeSR")

    def prompts(self, tags: str) -> tuple[str, str]:
        """(prompt, negative prompt) as the authors build them from the DAPE tags."""
        return f"{tags}, {self.prompt},{self.added_prompt}", self.negative_prompt

    def _upscale_one(self, lr: torch.Tensor, seed: int) -> torch.Tensor:
        height, width = lr.shape[-2:]
        lr = quantize(lr)  # the authors read 8-bit images
        tags, image_embeds = self.tagger(lr)
        prompt, negative = self.prompts(tags[0])
        cfg = self.guidance > 1.0
        text = self._encode_text([negative, prompt] if cfg else [prompt])
        image_embeds = image_embeds.to(self.device, self.dtype)
        if cfg:
            image_embeds = torch.cat([image_embeds] * 2)

        image = process_input(lr, self.scale, self.process_size)
        generator = torch.Generator("cpu").manual_seed(seed)
        latents = self._initial_latents(image, generator)
        self.scheduler.set_timesteps(self.steps, device=self.device)
        with image_conditioning(image_embeds, self.unet, self.controlnet):
            latents = self._sample(latents, image, text, generator, last_step=self.start_step)
        sr = self._decode(latents)
        return authors_output(sr, image, self.colour_fix, height * self.scale, width * self.scale)

    def _initial_latents(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        shape = (1, 4, image.shape[-2] // self.vae_factor, image.shape[-1] // self.vae_factor)
        noise = self._noise(shape, generator)
        if self.start_point == "noise":
            return noise * self.scheduler.init_noise_sigma
        latent = self._encode_image(image, generator)
        start = torch.tensor([self.start_step], device=self.device, dtype=torch.long)
        return self.scheduler.add_noise(latent, noise, start)
