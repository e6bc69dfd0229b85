"""Every checkpoint plugin loads files saved the way the real releases were: its tiny
state dict in the real layout, beside foreign pickled objects (Lightning callback class,
omegaconf config, argparse options, numpy scalars) that must not be imported."""

from __future__ import annotations

import sys

import pytest
import torch
from release_files import save_like_lightning, save_with_extras

from . import stablesr_layout as layout
from .checkpoints import make_rrdbnet_state, make_swinir_state
from .ram_layout import write_tiny_dape_files
from .test_dape import _tagger
from .test_stablesr import TINY_ENCODER, TINY_TEXT, TINY_UNET, TINY_VAE, _random


@pytest.mark.parametrize(
    ("model", "state", "key", "options"),
    [
        ("BSRGAN", lambda: make_rrdbnet_state("kair"), None, {}),
        ("RealESRGAN", lambda: make_rrdbnet_state("basicsr"), "params_ema", {}),
        ("SwinIR", lambda: make_swinir_state(True), "params_ema", {}),
        ("SwinIR", lambda: make_swinir_state(False), "params", {"variant": "classical"}),
    ],
)
def test_published_checkpoints_load_with_training_extras(tmp_path, model, state, key, options):
    from semfid_bench.sr_models import checkpoint_models as published

    weights = state()
    path = save_with_extras(weights, tmp_path / "release.pth", key)
    loaded = getattr(published, model)(weights=str(path), **options)
    ours = loaded.descriptor.model.state_dict()
    # the same tensors (spandrel renames some layouts' keys), so the same total
    torch.testing.assert_close(_total(ours), _total(weights))
    assert "omegaconf" not in sys.modules


def _total(state: dict) -> torch.Tensor:
    return sum(v.double().sum() for v in state.values() if v.is_floating_point())


def test_ram_and_dape_load_with_training_extras(tmp_path):
    files = write_tiny_dape_files(tmp_path)
    ram = torch.load(files["ram.pth"])["model"]
    save_with_extras(ram, files["ram.pth"], "model")  # RAM's pretrain.py: model + extras
    save_with_extras(torch.load(files["DAPE.pth"]), files["DAPE.pth"])
    tagger = _tagger(files)
    assert torch.equal(tagger.model.state_dict()["label_embed"], ram["label_embed"])


def test_stablesr_loads_lightning_checkpoints(tmp_path):
    from semfid_bench.sr_models.diffusion import stablesr_convert as convert
    from semfid_bench.sr_models.diffusion.stablesr import StableSR

    state = {
        **_random(layout.unet_shapes(**TINY_UNET), convert.UNET, seed=1),
        **_random(layout.encoder_shapes(**TINY_ENCODER), convert.STRUCT, seed=2),
        **_random(layout.vae_shapes(**TINY_VAE), convert.VAE, seed=3),
        **_random(layout.open_clip_text_shapes(**TINY_TEXT), convert.TEXT, seed=4),
        "betas": torch.zeros(1000),
    }
    vqgan = _random(layout.vae_shapes(**TINY_VAE, fusion=True), seed=5)
    vqgan["loss.discriminator.main.0.weight"] = torch.zeros(4, 3, 4, 4)  # never read
    model = StableSR(
        weights=str(save_like_lightning(state, tmp_path / "stablesr_000117.ckpt")),
        vqgan=str(save_like_lightning(vqgan, tmp_path / "vqgan_cfw_00011.ckpt")),
        steps=2,
        input_size=64,
    )
    assert torch.equal(
        model.structcond.state_dict()[next(iter(model.structcond.state_dict()))],
        state[convert.STRUCT + next(iter(model.structcond.state_dict()))],
    )
    assert "pytorch_lightning" not in sys.modules
