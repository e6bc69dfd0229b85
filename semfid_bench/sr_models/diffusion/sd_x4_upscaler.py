"""Stability AI's Stable Diffusion x4 upscaler, run through diffusers' own pipeline.

Weights: the hub repository ``stabilityai/stable-diffusion-x4-upscaler`` (diffusers layout),
or a local copy of it (``--set sd-x4-upscaler.weights=DIR``). The UNet denoises a latent of
the LR image's size conditioned on the noised LR image; the VAE decodes it 4× larger. Large
inputs run with :class:`~semfid_bench.sr_models.diffusion.latent_tiling.TiledUNet` and VAE tiling.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.interfaces import SRModel, UpscaleContext
from semfid_bench.plugin_api.weights import hf_snapshot
from semfid_bench.sr_models.diffusion.common import sampling_seed, torch_dtype
from semfid_bench.sr_models.diffusion.latent_tiling import TiledUNet
from semfid_bench.sr_models.diffusion.memory_fallback import MemoryFallback

REPO_ID = "stabilityai/stable-diffusion-x4-upscaler"
OPTION = "--set sd-x4-upscaler.weights=DIR"
# Only the diffusers-format files; the repo also holds a 3.5 GB CompVis .ckpt we never use.
ALLOW_PATTERNS = [
    "model_index.json",
    "*/*.json",
    "*/*.txt",
    "*/diffusion_pytorch_model.safetensors",
    "text_encoder/model.safetensors",
]


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad (B, C, H, W) on the bottom/right so H and W are multiples of ``multiple``."""
    height, width = image.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if not pad_h and not pad_w:
        return image
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(image, (0, pad_w, 0, pad_h), mode=mode)


def effective_guidance(guidance: float, prompt: str, negative_prompt: str) -> float:
    """``guidance``, or 1 (no guidance pass) when the two prompts are the same and guidance
    could not change the prediction."""
    return 1.0 if prompt == negative_prompt else guidance


class SDx4Upscaler(MemoryFallback, SRModel):
    """``StableDiffusionUpscalePipeline`` with seeded noise, tiling and fp16 on CUDA.

    Defaults follow the model card and diffusers: 75 steps, guidance 9.0, noise level 20.
    Noise comes from a CPU generator seeded per item (:func:`sampling_seed`), so results do
    not depend on the device's RNG. The default prompt is empty (no semantic hint, which a
    semantic-fidelity benchmark must not inject unasked); ``prompt`` changes that. When the
    prompt equals the negative prompt (both empty by default), classifier-free guidance
    cannot change the prediction (``uncond + g · (cond − uncond)`` with cond = uncond), so
    ``guidance`` is 1 then: one UNet pass per step instead of two. An image that runs out
    of memory is retried with a tiled VAE decode, then halved latent tiles (that call only).
    """

    @staticmethod
    def weight_files(weights: str | None = None, **_: object) -> dict[str, Callable[[], Path]]:
        """The hub repository a run loads (for ``prefetch`` and ``doctor``)."""
        return {
            REPO_ID: lambda: hf_snapshot(
                REPO_ID, weights, option=OPTION, allow_patterns=ALLOW_PATTERNS
            )
        }

    def __init__(
        self,
        scale: int = 4,
        device: torch.device | str = "cpu",
        *,
        weights: str | None = None,
        steps: int = 75,
        guidance: float = 9.0,
        noise_level: int = 20,
        prompt: str = "",
        negative_prompt: str = "",
        tile: int = 128,
        tile_overlap: int = 32,
        dtype: str = "auto",
        seed: int = 0,
    ) -> None:
        if int(scale) != 4:
            raise ValueError(f"sd-x4-upscaler only upscales x4, not x{scale}")
        from diffusers import StableDiffusionUpscalePipeline

        self.scale = 4
        self.device = torch.device(device)
        self.steps = int(steps)
        self.noise_level = int(noise_level)
        self.prompt = str(prompt)
        self.negative_prompt = str(negative_prompt)
        self.guidance = effective_guidance(float(guidance), self.prompt, self.negative_prompt)
        self.tile, self.tile_overlap = int(tile), int(tile_overlap)
        self.seed = int(seed)
        folder = self.weight_files(weights)[REPO_ID]()
        pipe = StableDiffusionUpscalePipeline.from_pretrained(
            folder, dtype=torch_dtype(dtype, self.device)
        )
        # Sizes must suit the UNet's downsampling and the pipeline's resizing (both powers of 2).
        self.multiple = max(
            2 ** (len(pipe.unet.config.block_out_channels) - 1), pipe.vae_scale_factor
        )
        if self.tile % self.multiple:
            raise ValueError(f"tile must be a multiple of {self.multiple}, not {self.tile}")
        pipe.unet = TiledUNet(pipe.unet, tile=self.tile, overlap=self.tile_overlap)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(self.device)

    @torch.inference_mode()
    def upscale(self, lr: torch.Tensor, context: UpscaleContext) -> torch.Tensor:
        seeds = context.image_seeds(len(lr))
        self._fallback_notes = []
        outputs = [
            self.with_memory_fallback(
                lambda image=image, seed=seed: self._upscale_one(
                    image[None], sampling_seed(seed, self.seed)
                ),
                max(image.shape[-2:]),
            )
            for image, seed in zip(lr, seeds, strict=True)
        ]
        return torch.cat(outputs).to(lr.device, torch.float32)

    def _latent_geometry(self, size: int) -> tuple[int, int]:
        """The latent is as large as the LR image; tiles suit the UNet's downsampling."""
        return size, self.multiple

    def _upscale_one(self, lr: torch.Tensor, seed: int) -> torch.Tensor:
        height, width = lr.shape[-2:]
        image = pad_to_multiple(lr.to(self.device, torch.float32), self.multiple)
        self.pipe.unet.tile, self.pipe.unet.overlap = self.tile, self.tile_overlap
        # The decoder works on 4× the latent: tile it too when the latent is tiled.
        if self._force_vae_tiling or max(image.shape[-2:]) > self.tile:
            self.pipe.vae.enable_tiling()
        else:
            self.pipe.vae.disable_tiling()
        generator = torch.Generator("cpu").manual_seed(seed)
        sr = self.pipe(
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            image=image.to(self.pipe.unet.dtype),
            num_inference_steps=self.steps,
            guidance_scale=self.guidance,
            noise_level=self.noise_level,
            generator=generator,
            output_type="pt",
        ).images
        return sr[..., : height * 4, : width * 4].float().clamp(0.0, 1.0)
