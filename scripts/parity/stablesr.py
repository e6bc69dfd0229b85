"""Regenerate the StableSR golden parity fixtures from the authors' own modules.

Usage (from the repository root, with IceClear/StableSR checked out OUTSIDE this
repository at the pinned commit)::

    git clone https://github.com/IceClear/StableSR /work/refs/StableSR
    git -C /work/refs/StableSR checkout 398ee9383777e255540ea027a704c8ce1f32145b
    python scripts/parity/stablesr.py --ref /work/refs/StableSR

It imports only the module files it needs (``ldm/modules/diffusionmodules/openaimodel.py``,
``model.py``, ``util.py``, ``ldm/modules/spade.py``, ``attention.py`` and the vendored
``basicsr/archs/rrdbnet_arch.py`` + ``arch_util.py``); the vendored ``basicsr`` package
``__init__`` (datasets, losses, old torchvision internals) is replaced by small stubs. The
authors' modules get seeded tiny weights (``tests/sr_models/seeded_parity.py``), run on seeded
inputs, and their outputs are written to ``tests/fixtures/parity/stablesr_*.pt``.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import subprocess
import sys
import types
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.sr_models.seeded_parity import save_fixture, seeded_state  # noqa: E402

REPOSITORY = "IceClear/StableSR"
COMMIT = "398ee9383777e255540ea027a704c8ce1f32145b"


def _module(name: str, path: Path | None = None, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    if path is not None:
        module.__path__ = [str(path)]
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def _load_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Registry:
    """Stand-in for basicsr's ``ARCH_REGISTRY``: registering is a no-op."""

    def register(self, obj=None):
        return obj if obj is not None else (lambda o: o)


def import_authors_modules(ref: Path) -> types.SimpleNamespace:
    """The authors' classes, imported from the checkout at ``ref`` with stubs for the
    vendored basicsr package (only RRDB and its helpers are real)."""
    head = subprocess.run(
        ["git", "-C", str(ref), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if head != COMMIT:
        raise SystemExit(f"{ref} is at {head}, not the pinned commit {COMMIT}")
    sys.path.insert(0, str(ref))
    _module("basicsr", ref / "basicsr")
    _module("basicsr.archs", ref / "basicsr" / "archs")
    _module("basicsr.utils", ref / "basicsr" / "utils", get_root_logger=logging.getLogger)
    _module("basicsr.utils.registry", ARCH_REGISTRY=_Registry())
    _module("basicsr.ops", ref / "basicsr" / "ops")
    _module("basicsr.ops.dcn", ModulatedDeformConvPack=nn.Module, modulated_deform_conv=None)
    # Imported by openaimodel.py, unused by the modules here.
    _module("basicsr.archs.stylegan2_arch", ConvLayer=None, EqualConv2d=None)
    # openaimodel.py checks ``type(context_dim) == ListConfig`` (OmegaConf lists from YAML).
    _module("omegaconf", ref)
    _module("omegaconf.listconfig", ListConfig=type("ListConfig", (list,), {}))
    _load_file("basicsr.archs.arch_util", ref / "basicsr" / "archs" / "arch_util.py")
    _load_file("basicsr.archs.rrdbnet_arch", ref / "basicsr" / "archs" / "rrdbnet_arch.py")
    from ldm.modules.diffusionmodules import model, openaimodel

    return types.SimpleNamespace(
        UNetModelDualcondV2=openaimodel.UNetModelDualcondV2,
        ResBlockDual=openaimodel.ResBlockDual,
        EncoderUNetModelWT=openaimodel.EncoderUNetModelWT,
        Encoder=model.Encoder,
        Decoder_Mix=model.Decoder_Mix,
    )


def _source(path: str, function: str) -> dict:
    return {"repository": REPOSITORY, "commit": COMMIT, "file": path, "function": function}


def _build(cls, config: dict) -> tuple[nn.Module, dict]:
    """``cls(**config)`` with seeded weights; returns it and its parameter shapes."""
    module = cls(**config).eval()
    shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    module.load_state_dict(seeded_state(shapes), strict=True)
    return module, shapes


def _inputs(seed: int, **shapes) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=generator) for name, shape in shapes.items()}


def spade_resblock(authors) -> dict:
    """``ResBlockDual``: ResBlock whose residual branch ends in SPADE on the structure map."""
    config = dict(channels=32, emb_channels=128, dropout=0.0, semb_channels=16, out_channels=64)
    block, shapes = _build(authors.ResBlockDual, config)
    inputs = _inputs(1, x=(2, 32, 8, 8), emb=(2, 128), segmap=(2, 16, 8, 8))
    with torch.no_grad():
        out = block(inputs["x"], inputs["emb"], {"8": inputs["segmap"]})
    return {
        "source": _source(
            "ldm/modules/diffusionmodules/openaimodel.py", "ResBlockDual.forward (with SPADE)"
        ),
        "config": config,
        "shapes": shapes,
        "inputs": inputs,
        "outputs": {"out": out},
    }


def spade_unet(authors) -> dict:
    """``UNetModelDualcondV2`` with the released config's switches (linear transformer
    projections, 64-wide heads, SPADE in every ResBlock), tiny: checks our conversion of
    the whole UNet, SPADE placement included."""
    config = dict(
        image_size=16, in_channels=4, model_channels=64, out_channels=4, num_res_blocks=1,
        attention_resolutions=(1, 2), channel_mult=(1, 2), num_head_channels=64,
        use_spatial_transformer=True, use_linear_in_transformer=True, transformer_depth=1,
        context_dim=32, use_checkpoint=False, legacy=False, semb_channels=16,
    )  # fmt: skip
    unet, shapes = _build(authors.UNetModelDualcondV2, config)
    inputs = _inputs(4, x=(1, 4, 16, 16), context=(1, 5, 32), struct_16=(1, 16, 16, 16),
                     struct_8=(1, 16, 8, 8))  # fmt: skip
    inputs["timesteps"] = torch.tensor([500])
    struct = {"16": inputs["struct_16"], "8": inputs["struct_8"]}
    with torch.no_grad():
        out = unet(inputs["x"], inputs["timesteps"], inputs["context"], struct)
    return {
        "source": _source(
            "ldm/modules/diffusionmodules/openaimodel.py", "UNetModelDualcondV2.forward"
        ),
        "config": config,
        "shapes": shapes,
        "inputs": inputs,
        "outputs": {"out": out},
    }


def time_aware_encoder(authors) -> dict:
    """``EncoderUNetModelWT``: features of the LR latent per width, timestep-conditioned."""
    config = dict(
        image_size=16, in_channels=4, model_channels=32, out_channels=32, num_res_blocks=1,
        attention_resolutions=(2,), channel_mult=(1, 2, 2), num_heads=4,
    )  # fmt: skip
    encoder, shapes = _build(authors.EncoderUNetModelWT, config)
    inputs = _inputs(2, x=(2, 4, 16, 16))
    inputs["timesteps"] = torch.tensor([999, 5])
    with torch.no_grad():
        features = encoder(inputs["x"], inputs["timesteps"])
    return {
        "source": _source(
            "ldm/modules/diffusionmodules/openaimodel.py", "EncoderUNetModelWT.forward"
        ),
        "config": config,
        "shapes": shapes,
        "inputs": inputs,
        "outputs": dict(features),
    }


class CFWAutoencoder(nn.Module):
    """The parts of ``AutoencoderKLResi`` (``ldm/models/autoencoder.py``) that inference
    uses, with its parameter names; ``encode``/``decode`` are the authors' bodies. (The
    class itself pulls in pytorch_lightning and the training losses.)"""

    def __init__(self, authors, ddconfig: dict, embed_dim: int, fusion_w: float) -> None:
        super().__init__()
        self.encoder = authors.Encoder(**ddconfig)
        self.decoder = authors.Decoder_Mix(**ddconfig, fusion_w=fusion_w)
        self.quant_conv = nn.Conv2d(2 * ddconfig["z_channels"], 2 * embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, ddconfig["z_channels"], 1)

    def encode(self, x):
        h, enc_fea = self.encoder(x, return_fea=True)
        moments = self.quant_conv(h)
        return moments, enc_fea

    def decode(self, z, enc_fea):
        z = self.post_quant_conv(z)
        return self.decoder(z, enc_fea)


def cfw_autoencoder(authors) -> dict:
    """CFW: the decoder fuses the encoder features of the LR image with weight ``dec_w``."""
    ddconfig = dict(
        double_z=True, z_channels=4, resolution=32, in_channels=3, out_ch=3, ch=32,
        ch_mult=(1, 1, 1, 2), num_res_blocks=1, attn_resolutions=[], dropout=0.0,
    )  # fmt: skip
    config = {"ddconfig": ddconfig, "embed_dim": 4, "fusion_w": 0.5}
    model = CFWAutoencoder(authors, **config).eval()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict(seeded_state(shapes), strict=True)
    inputs = _inputs(3, image=(1, 3, 32, 32), latents=(1, 4, 4, 4))
    inputs["image"] = inputs["image"].tanh()  # an image in [-1, 1]
    with torch.no_grad():
        moments, enc_fea = model.encode(inputs["image"])
        decoded = model.decode(inputs["latents"], enc_fea)
    return {
        "source": _source(
            "ldm/models/autoencoder.py + ldm/modules/diffusionmodules/model.py",
            "AutoencoderKLResi.encode/decode (Encoder return_fea, Decoder_Mix, "
            "Fuse_sft_block_RRDB)",
        ),
        "config": config,
        "shapes": shapes,
        "inputs": inputs,
        "outputs": {"moments": moments, "decoded": decoded},
    }


CASES = {
    "stablesr_spade_resblock": spade_resblock,
    "stablesr_spade_unet": spade_unet,
    "stablesr_time_aware_encoder": time_aware_encoder,
    "stablesr_cfw_autoencoder": cfw_autoencoder,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", type=Path, default=Path("/work/refs/StableSR"))
    args = parser.parse_args()
    authors = import_authors_modules(args.ref.resolve())
    torch.manual_seed(0)
    for name, case in CASES.items():
        print(save_fixture(name, case(authors)))


if __name__ == "__main__":
    main()
