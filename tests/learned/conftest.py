"""Fixtures for the learned metrics: tiny backbones and synthetic pairs with known answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from semfid_bench.learned.backbones import backbone_config

from .synthetic import make_pairs


@pytest.fixture
def one_thread():
    """Train on one thread: faster on a shared 2-core machine, and the same float
    reduction order in every run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_backbone():
    """A randomly initialised CLIP-style ResNet (open_clip's ModifiedResNet, the RN50
    class) with one block per stage and 1/8 of the width."""
    return backbone_config("clip-rn50", None, layers=(1, 1, 1, 1), width=8)


@pytest.fixture(scope="module")
def small_pairs(tmp_path_factory) -> Path:
    """24 synthetic pairs at 32 px: for fast plumbing tests."""
    return make_pairs(tmp_path_factory.mktemp("pairs"), 24, size=32, seed=1)
