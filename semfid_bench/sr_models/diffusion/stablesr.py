"""StableSR (Wang et al., IJCV 2024): diffusion prior for real-world SR, on SD 2.1-base.

Our reimplementation of the authors' inference (IceClear/StableSR
``scripts/sr_val_ddpm_text_T_vqganfin_oldcanvas_tile.py`` and ``LatentDiffusionSRTextWT``)
on diffusers components: the SD 2.1 UNet with SPADE driven by the time-aware encoder on the
LR latent, the empty-prompt OpenCLIP embedding, DDPM respaced from 1000 steps, Gaussian-
blended latent tiles, and the CFW autoencoder that fuses features of the upscaled LR image
into its decoder with weight ``dec_w``; then AdaIN or wavelet colour fix. The two CompVis
checkpoints load through :mod:`stablesr_convert`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.weights import WeightFile, fetch_weights, load_state_dict, locate_all
from semfid_bench.sr_models.diffusion import stablesr_convert as convert
from semfid_bench.sr_models.diffusion.colour_fix import adain_colour_fix, colour_fix
from semfid_bench.sr_models.diffusion.common import torch_dtype
from semfid_bench.sr_models.diffusion.controlnet_sr import ControlNetSR, resize
from semfid_bench.sr_models.diffusion.diffusers_loading import load_strict
from semfid_bench.sr_models.diffusion.latent_tiling import tiled_predict
from semfid_bench.sr_models.diffusion.memory_fallback import smaller_tile
from semfid_bench.sr_models.diffusion.stablesr_modules import (
    TimeAwareEncoder,
    add_cfw,
    add_spade,
    cfw_decode,
    structure_conditioning,
)

HUB = "https://huggingface.co/Iceclear/StableSR/resolve/main/"
STABLESR_FILE = WeightFile("stablesr_000117.ckpt", HUB + "stablesr_000117.ckpt")
VQGAN_FILE = WeightFile("vqgan_cfw_00011.ckpt", HUB + "vqgan_cfw_00011.ckpt")
#: The upscaled image is reflect-padded to a multiple of this many pixels, as the authors'
#: script does. At the default sizes every latent tile is 64 × 64; a latent smaller than
#: the tile (a multiple of 4 only) runs whole, diffusers' UNet matching its odd sizes.
PIXEL_MULTIPLE = 32
#: The authors' AdaIN eps (1e-5) acts on variances in [-1, 1], 4× those in [0, 1].
ADAIN_EPS = 1e-5 / 4


def respaced_timesteps(steps: int, total: int = 1000) -> list[int]:
    """The authors' ``space_timesteps(total, [steps])``: ``steps`` evenly strided, rounded
    timesteps from 0 to ``total - 1``, in descending order (for the scheduler)."""
    if steps < 1 or steps > total:
        raise ValueError(f"steps must be between 1 and {total}, not {steps}")
    stride = (total - 1) / (steps - 1) if steps > 1 else 1
    taken, position = set(), 0.0
    for _ in range(steps):
        taken.add(round(position))
        position += stride
    return sorted(taken, reverse=True)


def ddpm_scheduler():
    """The authors' schedule as diffusers' ``DDPMScheduler``: LDM "linear" betas 0.00085 to
    0.012 (= diffusers' scaled_linear), eps prediction, fixed-small variance, no clipping.
    Run with the :func:`respaced_timesteps` as custom timesteps, its steps are the authors'
    respaced posterior."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        variance_type="fixed_small",
    )


def empty_prompt_ids(vocab_size: int, length: int) -> torch.Tensor:
    """open_clip's tokens for "": start, end, zero padding (start/end are the last two ids)."""
    ids = torch.zeros(1, length, dtype=torch.long)
    ids[0, 0], ids[0, 1] = vocab_size - 2, vocab_size - 1
    return ids


class StableSR(ControlNetSR):
    """StableSR with the authors' defaults (README, 128 → 512): 200 DDPM steps, CFW weight
    ``dec_w`` 0.5, AdaIN colour fix, input size 512, latent tiles of 64 with overlap 32,
    pixel patches of 1280 with stride 1000 for larger images.

    :param weights: local ``stablesr_000117.ckpt`` (else the cache, else the hub).
    :param vqgan: local ``vqgan_cfw_00011.ckpt`` (else the cache, else the hub).
    :param input_size: the short side is upscaled to at least this many pixels.
    :param vqgantile_size: an upscaled image with a side above this many pixels is restored in
        patches of this size, each through the whole pipeline with the same seed, blended
        with Gaussian weights (the authors' ``--vqgantile_size``; ``--vqgantile_stride``).
    """

    @staticmethod
    def weight_files(
        weights: str | None = None, vqgan: str | None = None, **_: object
    ) -> dict[str, Callable[[], Path]]:
        """The two checkpoints a run loads (for ``prefetch`` and ``doctor``)."""
        return {
            STABLESR_FILE.filename: lambda: fetch_weights(
                STABLESR_FILE, weights, option="--set stablesr.weights=PATH"
            ),
            VQGAN_FILE.filename: lambda: fetch_weights(
                VQGAN_FILE, vqgan, option="--set stablesr.vqgan=PATH"
            ),
        }

    def __init__(
        self,
        scale: int = 4,
        device: torch.device | str = "cpu",
        *,
        weights: str | None = None,
        vqgan: str | None = None,
        steps: int = 200,
        dec_w: float = 0.5,
        colour_fix: str = "adain",
        input_size: int = 512,
        tile: int = 64,
        tile_overlap: int = 32,
        vqgantile_size: int = 1280,
        vqgantile_stride: int = 1000,
        dtype: str = "auto",
        seed: int = 0,
    ) -> None:
        if colour_fix not in ("adain", "wavelet", "none"):
            raise ValueError(f"colour_fix must be adain, wavelet or none, not {colour_fix!r}")
        if vqgantile_size % PIXEL_MULTIPLE or not 0 < vqgantile_stride <= vqgantile_size:
            raise ValueError(
                f"vqgantile_size must be a multiple of {PIXEL_MULTIPLE} and vqgantile_stride "
                f"between 1 and it, not {vqgantile_size} and {vqgantile_stride}"
            )
        self.vqgantile_size, self.vqgantile_stride = int(vqgantile_size), int(vqgantile_stride)
        self.scale = int(scale)
        self.device = torch.device(device)
        self.dtype = torch_dtype(dtype, self.device)
        self.steps, self.dec_w, self.colour_fix = int(steps), float(dec_w), colour_fix
        self.input_size = int(input_size)
        self.tile, self.tile_overlap, self.seed = int(tile), int(tile_overlap), int(seed)
        self.timesteps = respaced_timesteps(self.steps)
        paths = locate_all(self.weight_files(weights, vqgan))
        self.scheduler = ddpm_scheduler()
        modules = load_stablesr(paths[STABLESR_FILE.filename])
        modules["vqgan"] = load_cfw_vae(paths[VQGAN_FILE.filename], self.dec_w)
        text = modules.pop("text_encoder")
        ids = empty_prompt_ids(text.config.vocab_size, text.config.max_position_embeddings)
        with torch.inference_mode():
            self.text = text(ids)[0]
        self._place(modules)
        self.text = self.text.to(self.device, self.dtype)

    def _upscale_one(self, lr: torch.Tensor, seed: int) -> torch.Tensor:
        height, width = lr.shape[-2:]
        factor = max(self.input_size / min(height, width), self.scale)
        size = (int(height * factor), int(width * factor))
        image = F.interpolate(lr * 2 - 1, size=size, mode="bicubic").clamp(-1, 1)
        pad_h, pad_w = (-s % PIXEL_MULTIPLE for s in size)
        padded = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else image
        sr = tiled_predict(
            self._restore,
            padded,
            tile=self.vqgantile_size,
            overlap=self.vqgantile_size - self.vqgantile_stride,
            seed=seed,
        )
        return resize(sr[..., : size[0], : size[1]], height * self.scale, width * self.scale)

    def _restore(self, padded: torch.Tensor, *, seed: int) -> torch.Tensor:
        """The pipeline on one padded image (or patch) in [-1, 1]: encode, sample, CFW
        decode, colour fix, to [0, 1]; its noise drawn from ``seed`` (the authors reseed
        every patch)."""
        generator = torch.Generator("cpu").manual_seed(seed)
        lr_latent = self._encode_image((padded + 1) / 2, generator)
        start = torch.tensor([999], dtype=torch.long, device=self.device)
        latents = self.scheduler.add_noise(
            lr_latent, self._noise(lr_latent.shape, generator), start
        )
        self.scheduler.set_timesteps(timesteps=self.timesteps, device=self.device)
        for t in self.scheduler.timesteps:
            noise_pred = tiled_predict(
                self._predict_noise,
                latents.to(self.dtype),
                tile=self.tile,
                overlap=self.tile_overlap,
                spatial={"lr_latent": (lr_latent.to(self.dtype), 1)},
                t=t,
            )
            latents = self._step(noise_pred, t, latents, generator)
        scaled = (latents / self.vae.config.scaling_factor).to(self.vqgan.dtype)
        sr = cfw_decode(self.vqgan, scaled, padded.to(self.vqgan.dtype)).float()
        # As the authors: the colour fix sees the padded images, then the padding is cut.
        return self._fix_colours((sr + 1) / 2, (padded + 1) / 2)

    def _fix_colours(self, sr: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """The authors' colour fix (in [-1, 1]) computed in [0, 1], clamped to [0, 1]."""
        if self.colour_fix == "adain":
            return adain_colour_fix(sr, reference, eps=ADAIN_EPS)
        return colour_fix(sr, reference, self.colour_fix).clamp(0.0, 1.0)

    def _working_side(self, lr_size) -> int:
        height, width = lr_size
        return int(max(height, width) * max(self.input_size / min(height, width), self.scale))

    def _memory_settings(self) -> dict[str, Any]:
        kept = {"vqgantile_size": self.vqgantile_size, "vqgantile_stride": self.vqgantile_stride}
        return super()._memory_settings() | kept

    def _shrink(self, size: int) -> str | None:
        """First the CFW decoder's patches (the whole pipeline runs per patch, as with the
        authors' ``--vqgantile_size``; at default settings the latent is already tiled and
        the full-resolution CFW decode is the peak), then the latent tiles."""
        patch = smaller_tile(self.vqgantile_size, size, PIXEL_MULTIPLE, PIXEL_MULTIPLE)
        if patch is not None:
            stride = max(1, patch * self.vqgantile_stride // self.vqgantile_size)
            self.vqgantile_size, self.vqgantile_stride = patch, stride
            return f"CFW-decoder patches of {patch} px (stride {stride})"
        tiles = self._shrink_latent_tiles(size)
        if tiles is None:
            return None
        return f"CFW-decoder patches of {self.vqgantile_size} px and {tiles}"

    def _vae_tiling(self, height: int, width: int) -> None:
        """Never tile the VAE encoder: the authors encode the whole upscaled image (their
        only tiling, above ``--vqgantile_size`` 1280 px, cuts the image for the whole
        pipeline, not for the encoder)."""
        self.vae.disable_tiling()

    def _predict_noise(self, sample, lr_latent, *, t) -> torch.Tensor:
        timesteps = t.reshape(1).expand(sample.shape[0]).to(self.device)
        features = self.structcond(lr_latent, timesteps)
        text = self.text.expand(sample.shape[0], -1, -1)
        with structure_conditioning(features, self.unet):
            return self.unet(sample, timesteps, encoder_hidden_states=text, return_dict=False)[0]


def load_stablesr(path) -> dict[str, torch.nn.Module]:
    """UNet with SPADE, VAE, text encoder and time-aware encoder from
    ``stablesr_000117.ckpt`` (CompVis ``LatentDiffusionSRTextWT`` layout)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    parts = (convert.UNET, convert.VAE, convert.TEXT, convert.STRUCT)
    state = load_state_dict(path, prefixes=parts, release=STABLESR_FILE)
    source = str(path)
    struct_state = convert.require_part(state, convert.STRUCT, "the time-aware encoder", source)
    encoder_config = convert.encoder_config(struct_state)
    structcond = TimeAwareEncoder(**encoder_config)
    load_strict(structcond, struct_state, "time-aware encoder", source)

    unet_config, unet_state = convert.convert_unet(state, source)
    unet = UNet2DConditionModel.from_config(unet_config)
    add_spade(unet, encoder_config["out_channels"])
    load_strict(unet, unet_state, "StableSR UNet", source)

    vae_config, vae_state = convert.convert_vae(
        convert.require_part(state, convert.VAE, "the VAE", source)
    )
    vae = load_strict(AutoencoderKL.from_config(vae_config), vae_state, "VAE", source)

    text_config = convert.text_config(state)
    vocab = text_config["vocab_size"]
    text = CLIPTextModel(
        CLIPTextConfig(**text_config, bos_token_id=vocab - 2, eos_token_id=vocab - 1)
    )
    text_state = convert.convert_text(state, text_config, source)
    if not any(k.startswith("text_model.") for k in text.state_dict()):
        text_state = {k.removeprefix("text_model."): v for k, v in text_state.items()}
    load_strict(text, text_state, "OpenCLIP text encoder", source)
    return {"unet": unet, "vae": vae, "structcond": structcond, "text_encoder": text}


def load_cfw_vae(path, weight: float) -> torch.nn.Module:
    """The CFW autoencoder of ``vqgan_cfw_00011.ckpt`` with fusion weight ``weight``."""
    from diffusers import AutoencoderKL

    state = load_state_dict(path, exclude=("loss.",), release=VQGAN_FILE)  # not the discriminator
    config, converted = convert.convert_vae(state)
    vae = AutoencoderKL.from_config(config)
    add_cfw(vae, weight)
    return load_strict(vae, converted, "CFW autoencoder", str(path))
