"""Fixtures for SR model tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .checkpoints import make_rrdbnet_state, make_swinir_state, write_checkpoint


@pytest.fixture
def checkpoint_file(tmp_path):
    """``checkpoint_file(kind)`` → path of a random-weight checkpoint in the real layout:
    ``bsrgan``, ``realesrgan``, ``swinir`` (real-world GAN) or ``swinir-classical``."""

    def make(kind: str, seed: int = 0) -> Path:
        path = tmp_path / f"{kind}-{seed}.pth"
        if kind == "bsrgan":
            return write_checkpoint(make_rrdbnet_state("kair", seed=seed), path)
        if kind == "realesrgan":
            return write_checkpoint(make_rrdbnet_state("basicsr", seed=seed), path, "params_ema")
        if kind == "swinir":
            return write_checkpoint(make_swinir_state(True, seed), path, "params_ema")
        if kind == "swinir-classical":
            return write_checkpoint(make_swinir_state(False, seed), path, "params")
        raise ValueError(kind)

    return make
