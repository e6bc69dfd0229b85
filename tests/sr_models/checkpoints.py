"""Random-weight checkpoints in the key layouts of the real release files.

Small configurations (few blocks, narrow features; spandrel fixes the RRDB growth channels
at 32 like the releases) that spandrel detects as it detects the real files, saved the way
the authors saved theirs.
"""

from __future__ import annotations

from pathlib import Path

import torch


def _conv(state: dict, name: str, out_ch: int, in_ch: int, gen: torch.Generator) -> None:
    fan_in = in_ch * 9
    state[f"{name}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=gen) / fan_in**0.5
    state[f"{name}.bias"] = torch.randn(out_ch, generator=gen) * 0.01


def make_rrdbnet_state(layout: str, nf: int = 8, nb: int = 2, gc: int = 32, seed: int = 0) -> dict:
    """RRDBNet x4 weights. ``layout``: ``kair`` (BSRGAN.pth: ``RRDB_trunk.0.RDB1.conv1``,
    ``trunk_conv``, ``upconv1``, ``HRconv``) or ``basicsr`` (RealESRGAN_x4plus.pth:
    ``body.0.rdb1.conv1``, ``conv_body``, ``conv_up1``, ``conv_hr``)."""
    gen = torch.Generator().manual_seed(seed)
    kair = layout == "kair"
    state: dict[str, torch.Tensor] = {}
    _conv(state, "conv_first", nf, 3, gen)
    for block in range(nb):
        for rdb in (1, 2, 3):
            prefix = f"RRDB_trunk.{block}.RDB{rdb}" if kair else f"body.{block}.rdb{rdb}"
            for index in range(1, 6):
                out_ch = nf if index == 5 else gc
                _conv(state, f"{prefix}.conv{index}", out_ch, nf + (index - 1) * gc, gen)
    names = (
        ("trunk_conv", "upconv1", "upconv2", "HRconv")
        if kair
        else ("conv_body", "conv_up1", "conv_up2", "conv_hr")
    )
    for name in names:
        _conv(state, name, nf, nf, gen)
    _conv(state, "conv_last", 3, nf, gen)
    return state


def make_swinir_state(real_world: bool = True, seed: int = 0) -> dict:
    """SwinIR x4 weights from spandrel's SwinIR class (the original's module names):
    ``nearest+conv`` upsampler and ``3conv`` residuals like the real-world GAN model, or
    ``pixelshuffle`` and ``1conv`` like the classical model."""
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(seed)
    net = SwinIR(
        img_size=16,
        embed_dim=16,
        depths=[2, 2],
        num_heads=[2, 2],
        window_size=8,
        mlp_ratio=2.0,
        upscale=4,
        upsampler="nearest+conv" if real_world else "pixelshuffle",
        resi_connection="3conv" if real_world else "1conv",
    )
    return net.state_dict()


def write_checkpoint(state: dict, path: Path, wrapper: str | None = None) -> Path:
    """Save like the release files: a bare state dict, or under ``params_ema``/``params``."""
    torch.save({wrapper: state} if wrapper else state, path)
    return path
