"""What SeeSR and PASD share: SD components driven by a ControlNet on the upscaled LR image.

Both run a text encoder, a VAE and a UNet + ControlNet pair in their own sampling loop;
this base holds the parts that are identical (prompt encoding, VAE decoding with tiling
for large latents, the per-image seeded loop, the authors' 8-bit PIL resizing and output
chain).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch
import torch.nn.functional as F

from semfid_bench.datasets.images import quantize, to_tensor, to_uint8
from semfid_bench.plugin_api.interfaces import SRModel, UpscaleContext
from semfid_bench.sr_models.diffusion.colour_fix import colour_fix
from semfid_bench.sr_models.diffusion.common import sampling_seed
from semfid_bench.sr_models.diffusion.latent_tiling import tiled_predict
from semfid_bench.sr_models.diffusion.memory_fallback import MemoryFallback


def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bicubic resize in [0, 1] (antialiased when shrinking, as PIL's resize is)."""
    shrink = height < image.shape[-2] or width < image.shape[-1]
    out = F.interpolate(image, size=(height, width), mode="bicubic", antialias=shrink)
    return out.clamp(0.0, 1.0)


def pil_resize(
    image: torch.Tensor, height: int, width: int, resample: str = "bicubic"
) -> torch.Tensor:
    """PIL's resize of the 8-bit image (1, 3, h, w) in [0, 1], as the SeeSR and PASD test
    scripts resize their PIL images (``Image.resize``'s default is bicubic); the result is
    8-bit too. A resize to the same size is a copy, as in PIL."""
    from PIL import Image

    if image.shape[0] != 1:
        raise ValueError(f"pil_resize takes one image, not a batch of {image.shape[0]}")
    filters = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
    picture = Image.fromarray(to_uint8(image[0]))
    if picture.size != (width, height):
        picture = picture.resize((width, height), filters[resample])
    return to_tensor(np.array(picture))[None].to(image.device)


def authors_output(
    sr: torch.Tensor, image: torch.Tensor, method: str, height: int, width: int
) -> torch.Tensor:
    """The authors' output chain after VAE decoding: the pipeline's 8-bit image (rounded),
    the colour fix towards the processed LR ``image`` converted back by ``ToPILImage``
    (``mul(255).byte()``: truncated), and PIL's bicubic resize to ``height`` × ``width``."""
    sr = quantize(sr)
    if method not in ("none", "nofix"):
        fixed = colour_fix(sr, image, method).clamp(0.0, 1.0)
        sr = fixed.mul(255).byte().float().div(255)
    return pil_resize(sr, height, width)


class ControlNetSR(MemoryFallback, SRModel):
    """Base for ControlNet-conditioned SD restorers; subclasses set ``tokenizer``,
    ``scheduler``, ``text_encoder``, ``vae``, ``unet``, ``controlnet``, ``device``,
    ``dtype``, ``tile``, ``tile_overlap``, ``vae_factor``, ``guidance``,
    ``conditioning_scale``, ``seed``, ``process_size`` and implement :meth:`_upscale_one`.

    An image that runs out of memory is retried with a tiled VAE decode, then with halved
    latent tiles (see :mod:`~semfid_bench.sr_models.diffusion.memory_fallback`)."""

    tokenizer: object
    scheduler: object
    text_encoder: torch.nn.Module
    vae: torch.nn.Module
    device: torch.device
    dtype: torch.dtype
    seed: int
    process_size: int

    @torch.inference_mode()
    def upscale(self, lr: torch.Tensor, context: UpscaleContext) -> torch.Tensor:
        seeds = context.image_seeds(len(lr))
        self._fallback_notes = []
        outputs = [
            self.with_memory_fallback(
                lambda image=image, seed=seed: self._upscale_one(
                    image[None].to(self.device), sampling_seed(seed, self.seed)
                ),
                self._working_side(image.shape[-2:]),
            )
            for image, seed in zip(lr, seeds, strict=True)
        ]
        return torch.cat(outputs).to(lr.device, torch.float32)

    def _working_side(self, lr_size) -> int:
        """The larger side (pixels) of the image the pipeline works on for an LR image of
        ``lr_size``: upscaled ×scale, and at least ``process_size`` on its shorter side."""
        height, width = lr_size
        return int(max(height, width) * max(self.scale, self.process_size / min(height, width)))

    def _latent_geometry(self, size: int) -> tuple[int, int]:
        return size // self.vae_factor, 8

    def _upscale_one(self, lr: torch.Tensor, seed: int) -> torch.Tensor:
        raise NotImplementedError

    def _place(self, modules: dict[str, torch.nn.Module]) -> None:
        """Set ``modules`` as attributes on the device in ``dtype``, except a model (a VAE)
        whose config asks to stay in float32 (``force_upcast``: SD VAEs overflow in float16)."""
        for name, module in modules.items():
            upcast = getattr(getattr(module, "config", None), "force_upcast", False)
            dtype = torch.float32 if upcast else self.dtype
            if next(module.parameters()).dtype != dtype:  # diffusers warns on every cast
                module = module.to(dtype)
            setattr(self, name, module.to(self.device).eval())

    def _load_components(
        self, base_dir, folder, build_unet: Callable, build_controlnet: Callable, label: str
    ) -> None:
        """Tokenizer, text encoder and VAE from the base SD folder; the authors' UNet and
        ControlNet from ``folder/unet`` and ``folder/controlnet``; all placed on the device."""
        from diffusers import AutoencoderKL
        from transformers import CLIPTextModel, CLIPTokenizer

        from semfid_bench.sr_models.diffusion.diffusers_loading import load_model_folder

        self.tokenizer = CLIPTokenizer.from_pretrained(base_dir, subfolder="tokenizer")
        modules = {
            "text_encoder": CLIPTextModel.from_pretrained(base_dir, subfolder="text_encoder"),
            "vae": AutoencoderKL.from_pretrained(base_dir, subfolder="vae"),
            "unet": load_model_folder(folder / "unet", build_unet, f"{label} UNet"),
            "controlnet": load_model_folder(
                folder / "controlnet", build_controlnet, f"{label} ControlNet"
            ),
        }
        self._place(modules)
        self.vae_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)

    def _encode_text(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            texts,
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(self.device)
        return self.text_encoder(tokens)[0]

    def _encode_image(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Scaled VAE latent of ``image`` in [0, 1], sampled from the posterior."""
        self._vae_tiling(image.shape[-2] // 8, image.shape[-1] // 8)
        posterior = self.vae.encode((image * 2 - 1).to(self.vae.dtype)).latent_dist
        eps = torch.randn(posterior.mean.shape, generator=generator)
        sample = posterior.mean + posterior.std * eps.to(self.device, posterior.mean.dtype)
        return sample.float() * self.vae.config.scaling_factor

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        self._vae_tiling(*latents.shape[-2:])
        scaled = (latents / self.vae.config.scaling_factor).to(self.vae.dtype)
        image = self.vae.decode(scaled, return_dict=False)[0]
        return ((image.float() + 1) / 2).clamp(0.0, 1.0)

    def _vae_tiling(self, height: int, width: int) -> None:
        if self._force_vae_tiling or max(height, width) > self.tile:
            self.vae.enable_tiling()
        else:
            self.vae.disable_tiling()

    def _predict_noise(self, sample, cond, *, t, text) -> torch.Tensor:
        """ControlNet on the LR condition, then the UNet with its residuals."""
        down, mid = self.controlnet(
            sample,
            t,
            encoder_hidden_states=text,
            controlnet_cond=cond,
            conditioning_scale=self.conditioning_scale,
            return_dict=False,
        )
        with self._unet_conditioning(down):
            return self.unet(
                sample,
                t,
                encoder_hidden_states=text,
                down_block_additional_residuals=down,
                mid_block_additional_residual=mid,
                return_dict=False,
            )[0]

    def _unet_conditioning(self, down: tuple[torch.Tensor, ...]) -> AbstractContextManager:
        """Extra conditioning active during the UNet call; none by default."""
        return nullcontext()

    def _sample(
        self,
        latents: torch.Tensor,
        image: torch.Tensor,
        text: torch.Tensor,
        generator: torch.Generator,
        *,
        last_step: int | None = None,
    ) -> torch.Tensor:
        """The sampling loop: tiled noise predictions conditioned on ``image``, with
        classifier-free guidance when ``text`` holds (negative, positive) prompts.
        Timesteps above ``last_step`` are skipped (SeeSR starts from a noised LR latent)."""
        cfg = text.shape[0] == 2 * latents.shape[0]
        cond = (torch.cat([image] * 2) if cfg else image).to(self.dtype)
        for t in self.scheduler.timesteps:
            if last_step is not None and t > last_step:
                continue
            model_input = torch.cat([latents] * 2) if cfg else latents
            model_input = self.scheduler.scale_model_input(model_input, t)
            noise_pred = tiled_predict(
                self._predict_noise,
                model_input.to(self.dtype),
                tile=self.tile,
                overlap=self.tile_overlap,
                spatial={"cond": (cond, self.vae_factor)},
                t=t,
                text=text,
            )
            if cfg:
                uncond, conditional = noise_pred.float().chunk(2)
                noise_pred = uncond + self.guidance * (conditional - uncond)
            latents = self._step(noise_pred, t, latents, generator)
        return latents

    def _step(self, noise_pred, t, latents, generator: torch.Generator) -> torch.Tensor:
        """One scheduler step; stochastic schedulers (DDPM) draw from ``generator``."""
        kwargs = {}
        if "generator" in inspect.signature(self.scheduler.step).parameters:
            kwargs["generator"] = generator
        return self.scheduler.step(noise_pred.float(), t, latents, return_dict=False, **kwargs)[0]

    def _noise(self, shape, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(shape, generator=generator).to(self.device)
