"""Colour correction towards the LR image."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST
from semfid_bench.sr_models.diffusion.colour_fix import (
    adain_colour_fix,
    colour_fix,
    wavelet_colour_fix,
)


@pytest.fixture(scope="module")
def photo():
    return load_image(SAMPLE_MANIFEST.parent / "coffee.png")[None, :, :96, :96]


def test_adain_takes_the_reference_channel_statistics(photo):
    tinted = (photo * 0.6 + torch.tensor([0.3, 0.0, 0.1])[:, None, None]).clamp(0, 1)
    fixed = adain_colour_fix(tinted, photo)
    torch.testing.assert_close(fixed.mean((2, 3)), photo.mean((2, 3)), atol=2e-3, rtol=0)
    torch.testing.assert_close(fixed.std((2, 3)), photo.std((2, 3)), atol=5e-3, rtol=0)


def test_wavelet_keeps_details_and_takes_reference_colours(photo):
    flat = torch.full_like(photo, 0.5)
    assert torch.allclose(wavelet_colour_fix(photo, photo), photo, atol=1e-5)
    fixed = wavelet_colour_fix(flat, photo)  # no detail of its own: all from the reference
    blurred_error = (fixed - photo).abs().mean()
    assert blurred_error < (flat - photo).abs().mean() / 2


def test_unknown_method_is_refused(photo):
    with pytest.raises(ValueError, match="adain, wavelet or none"):
        colour_fix(photo, photo, "histogram")
    assert colour_fix(photo, photo * 0, "none") is photo
