"""PASD (Yang et al., ECCV 2024): pixel-aware Stable Diffusion for real-world SR, on SD 1.5.

Our reimplementation of the authors' inference (yangxy/PASD ``test_pasd.py`` and
``pasd/pipelines/pipeline_pasd.py``) on diffusers components: SD 1.5's VAE, CLIP text
encoder, tokenizer and UniPC scheduler; PASD's UNet with pixel-aware cross-attention and its
ControlNet with the degradation removal module (:mod:`pixel_aware_attention`), loaded from
``yangtao9009/PASD`` (``pasd/checkpoint-100000``); a caption of the LR image as the prompt
(the authors use open_clip's CoCa ViT-L/14); sampling starts from the upscaled LR latent
noised to the first timestep and then again to ``added_noise_level``; wavelet colour fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from semfid_bench.datasets.images import quantize
from semfid_bench.plugin_api.weights import hf_snapshot, locate_all
from semfid_bench.sr_models.diffusion.common import torch_dtype
from semfid_bench.sr_models.diffusion.controlnet_sr import ControlNetSR, authors_output, pil_resize
from semfid_bench.sr_models.diffusion.pixel_aware_attention import (
    DegradationRemovalModule,
    add_pixel_aware_attention,
    pixel_conditioning,
)

PASD_REPO = "yangtao9009/PASD"
BASE_REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
BASE_PATTERNS = [
    "model_index.json",
    "scheduler/*",
    "tokenizer/*",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]
_PASD_KEYS = ("return_rgbs", "use_rrdb", "use_pixelwise_attention")

Captioner = Callable[[torch.Tensor], list[str]]


def build_pasd_unet(config: dict) -> torch.nn.Module:
    """PASD's UNet: diffusers' ``UNet2DConditionModel`` with pixel-aware attention."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_config(
        {k: v for k, v in config.items() if k not in _PASD_KEYS}
    )
    add_pixel_aware_attention(unet)
    return unet


def build_pasd_controlnet(config: dict) -> torch.nn.Module:
    """PASD's ControlNet: diffusers' ``ControlNetModel`` whose conditioning embedding is the
    degradation removal module."""
    from diffusers import ControlNetModel

    controlnet = ControlNetModel.from_config(
        {k: v for k, v in config.items() if k not in _PASD_KEYS}
    )
    controlnet.controlnet_cond_embedding = DegradationRemovalModule(
        controlnet.config.block_out_channels[0],
        controlnet.config.conditioning_channels,
        controlnet.config.conditioning_embedding_out_channels,
        return_rgbs=config.get("return_rgbs", True),
        use_rrdb=config.get("use_rrdb", False),
    )
    controlnet.register_to_config(
        return_rgbs=config.get("return_rgbs", True), use_rrdb=config.get("use_rrdb", False)
    )
    return controlnet


def process_input(lr: torch.Tensor, scale: int, process_size: int) -> torch.Tensor:
    """The authors' input (``test_pasd.py``), PIL resizes of the 8-bit image: upscale by
    ``scale`` (bicubic); if the short side is then below ``process_size``, torchvision's
    ``Resize(process_size, BILINEAR)`` (short side to ``process_size``, long side truncated
    to ``int(process_size * long / short)``); resize to both sides snapped down to
    multiples of 8 (bicubic)."""
    image = quantize(lr)
    image = pil_resize(image, image.shape[-2] * scale, image.shape[-1] * scale)
    height, width = image.shape[-2:]
    if min(height, width) < process_size:
        short, long = min(height, width), max(height, width)
        longer = int(process_size * long / short)
        height, width = (process_size, longer) if height <= width else (longer, process_size)
        image = pil_resize(image, height, width, resample="bilinear")
    return pil_resize(image, height // 8 * 8, width // 8 * 8)


class PASD(ControlNetSR):
    """PASD with the authors' defaults (``test_pasd.py``, ``--upscale 4``): 20 UniPC steps,
    guidance 9.0, added prompt "clean, high-resolution, 8k", their negative prompt, process
    size 768, added noise level 900, wavelet colour fix, latent tiles of 320 (overlap 8).

    ``added_noise_level`` behaves as in the authors' pipeline: a level that is not one of
    the sampling timesteps (900 is not among UniPC's 20) makes diffusers' ``add_noise`` use
    the last step's sigma (t=50: 0.22 of fresh noise, signal kept ×0.975), not t=900's.

    :param weights: local copy of the ``yangtao9009/PASD`` repository (else the HF cache).
    :param checkpoint: folder inside it holding ``unet/`` and ``controlnet/``.
    :param base: local copy of SD 1.5 (``stable-diffusion-v1-5/stable-diffusion-v1-5``).
    :param captioner: ``coca`` (open_clip CoCa ViT-L/14, the authors' default), ``none``
        (no caption), or a callable mapping LR images to captions.
    """

    @staticmethod
    def weight_files(
        weights: str | None = None,
        checkpoint: str = "pasd/checkpoint-100000",
        base: str | None = None,
        captioner: object = "coca",
        coca: str | None = None,
        **_: object,
    ) -> dict[str, Callable[[], Path]]:
        """Every file a run with these options loads (for ``prefetch`` and ``doctor``)."""
        lookups = {
            "pasd": lambda: hf_snapshot(
                PASD_REPO,
                weights,
                option="--set pasd.weights=DIR",
                allow_patterns=[f"{checkpoint}/unet/*", f"{checkpoint}/controlnet/*"],
            ),
            "base": lambda: hf_snapshot(
                BASE_REPO, base, option="--set pasd.base=DIR", allow_patterns=BASE_PATTERNS
            ),
        }
        if captioner == "coca":
            from semfid_bench.vision_language.coca_captioner import coca_weights

            lookups["coca"] = lambda: coca_weights(coca)
        return lookups

    def __init__(
        self,
        scale: int = 4,
        device: torch.device | str = "cpu",
        *,
        weights: str | None = None,
        checkpoint: str = "pasd/checkpoint-100000",
        base: str | None = None,
        captioner: object = "coca",
        coca: str | None = None,
        steps: int = 20,
        guidance: float = 9.0,
        conditioning_scale: float = 1.0,
        prompt: str = "",
        added_prompt: str = "clean, high-resolution, 8k",
        negative_prompt: str = "blurry, dotted, noise, raster lines, unclear, lowres, "
        "over-smoothed",
        process_size: int = 768,
        added_noise_level: int = 900,
        init_with_noise: bool = False,
        colour_fix: str = "wavelet",
        tile: int = 320,
        tile_overlap: int = 8,
        dtype: str = "auto",
        seed: int = 0,
    ) -> None:
        from diffusers import UniPCMultistepScheduler

        if captioner not in ("coca", "none") and not callable(captioner):
            raise ValueError(f"captioner must be coca, none or a callable, not {captioner!r}")
        self.scale = int(scale)
        self.device = torch.device(device)
        self.dtype = torch_dtype(dtype, self.device)
        self.steps, self.guidance = int(steps), float(guidance)
        self.conditioning_scale = float(conditioning_scale)
        self.prompt, self.added_prompt = str(prompt), str(added_prompt)
        self.negative_prompt = str(negative_prompt)
        self.process_size = int(process_size)
        self.added_noise_level = int(added_noise_level)
        self.init_with_noise = bool(init_with_noise)
        self.colour_fix = colour_fix
        self.tile, self.tile_overlap, self.seed = int(tile), int(tile_overlap), int(seed)
        paths = locate_all(self.weight_files(weights, checkpoint, base, captioner, coca))
        self.captioner = _captioner(captioner, self.device, paths.get("coca"))
        repo, base_dir = paths["pasd"], paths["base"]
        self.scheduler = UniPCMultistepScheduler.from_pretrained(base_dir, subfolder="scheduler")
        self._load_components(
            base_dir, repo / checkpoint, build_pasd_unet, build_pasd_controlnet, "PASD"
        )

    def prompts(self, caption: str) -> tuple[str, str]:
        """(prompt, negative prompt) as the authors build them from the caption."""
        text = caption if self.prompt == "" else f"{caption} {self.prompt}"
        return text + self.added_prompt, self.negative_prompt

    def _upscale_one(self, lr: torch.Tensor, seed: int) -> torch.Tensor:
        height, width = lr.shape[-2:]
        lr = quantize(lr)  # the authors read 8-bit images
        prompt, negative = self.prompts(self.captioner(lr)[0])
        cfg = self.guidance > 1.0
        text = self._encode_text([negative, prompt] if cfg else [prompt])
        image = process_input(lr, self.scale, self.process_size)
        generator = torch.Generator("cpu").manual_seed(seed)
        self.scheduler.set_timesteps(self.steps, device=self.device)
        latents = self._initial_latents(image, generator)
        latents = self._sample(latents, image, text, generator)
        sr = self._decode(latents)
        return authors_output(sr, image, self.colour_fix, height * self.scale, width * self.scale)

    def _unet_conditioning(self, down: tuple[torch.Tensor, ...]):
        """PASD's pixel-aware cross-attention reads the ControlNet's features."""
        return pixel_conditioning(down, self.unet)

    def _initial_latents(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        shape = (1, 4, image.shape[-2] // self.vae_factor, image.shape[-1] // self.vae_factor)
        if self.init_with_noise:
            return self._noise(shape, generator) * self.scheduler.init_noise_sigma
        latent = self._encode_image(image, generator)
        first = self.scheduler.timesteps[:1].long()
        latent = self.scheduler.add_noise(latent, self._noise(shape, generator), first)
        added = torch.tensor([self.added_noise_level], device=self.device, dtype=torch.long)
        latent = self.scheduler.add_noise(latent, self._noise(shape, generator), added)
        return latent * self.scheduler.init_noise_sigma


def _captioner(captioner: object, device: torch.device, coca: Path | None) -> Captioner:
    if callable(captioner):
        return captioner
    if captioner == "none":
        return lambda lr: [""] * lr.shape[0]
    from semfid_bench.vision_language.coca_captioner import CocaCaptioner

    return CocaCaptioner(coca, device=device)
