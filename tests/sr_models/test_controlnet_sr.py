"""Shared plumbing of the ControlNet SR models."""

from __future__ import annotations

import torch

from semfid_bench.sr_models.controlnet_sr import ControlNetSR, resize

from .tiny_diffusion import tiny_unet, tiny_vae


def test_vae_that_asks_for_float32_stays_float32_in_half_precision():
    model = ControlNetSR.__new__(ControlNetSR)
    model.device, model.dtype = torch.device("cpu"), torch.float16
    upcast = tiny_vae(down_blocks=2)
    plain = tiny_vae(down_blocks=2)
    plain.register_to_config(force_upcast=False)
    model._place({"vae": upcast, "unet": tiny_unet()})
    assert (model.vae.dtype, model.unet.dtype) == (torch.float32, torch.float16)
    model._place({"vae": plain})
    assert model.vae.dtype == torch.float16


def test_resize_hits_the_size_and_stays_in_range():
    image = torch.rand(1, 3, 10, 14)
    assert resize(image, 40, 56).shape[-2:] == (40, 56)
    small = resize(image, 5, 7)
    assert small.shape[-2:] == (5, 7)
    assert small.min() >= 0 and small.max() <= 1
