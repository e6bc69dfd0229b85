"""Shared plumbing of the ControlNet SR models."""

from __future__ import annotations

import torch

from semfid_bench.datasets.images import to_tensor, to_uint8
from semfid_bench.sr_models.diffusion.controlnet_sr import ControlNetSR, resize

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


def _authors_adain_output(decoded: torch.Tensor, image: torch.Tensor, size):
    """The authors' output chain (cswry/SeeSR @8edecc7: diffusers' numpy_to_pil in the
    pipeline, utils/wavelet_color_fix.py adain_color_fix, test_seesr.py's final resize)."""
    import numpy as np
    from PIL import Image
    from torchvision.transforms import ToPILImage, ToTensor

    def calc_mean_std(feat, eps=1e-5):
        b, c = feat.shape[:2]
        std = (feat.reshape(b, c, -1).var(dim=2) + eps).sqrt().reshape(b, c, 1, 1)
        return feat.reshape(b, c, -1).mean(dim=2).reshape(b, c, 1, 1), std

    array = decoded[0].permute(1, 2, 0).numpy()
    picture = Image.fromarray((array * 255).round().astype("uint8"))
    target = ToTensor()(picture).unsqueeze(0)
    source = ToTensor()(Image.fromarray(to_uint8(image[0]))).unsqueeze(0)
    style_mean, style_std = calc_mean_std(source)
    content_mean, content_std = calc_mean_std(target)
    result = (target - content_mean) / content_std * style_std + style_mean
    picture = ToPILImage()(result.squeeze(0).clamp_(0.0, 1.0))
    return to_tensor(np.array(picture.resize(size)))[None]


def test_output_chain_is_the_authors():
    """8-bit rounding of the decoded image, AdaIN converted back with ToPILImage's
    truncation, PIL bicubic resize to 4x the LR: the same pixels as the authors'."""
    from semfid_bench.datasets.images import load_image
    from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST
    from semfid_bench.sr_models.diffusion.controlnet_sr import authors_output

    photo = load_image(SAMPLE_MANIFEST.parent / "astronaut.png")[None, :, 40:72, 60:92]
    decoded = (photo * 0.8 + 0.05 + 0.02 * torch.rand(photo.shape)).clamp(0, 1)
    image = photo.flip(-1)
    ours = authors_output(decoded, image, "adain", 36, 44)
    assert torch.equal(ours, _authors_adain_output(decoded, image, (44, 36)))
