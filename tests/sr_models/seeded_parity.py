"""Golden parity fixtures: outputs of the authors' own modules on seeded tiny weights.

A fixture (``tests/fixtures/parity/*.pt``) holds its ``source`` (repository, commit,
function), the module ``config``, the parameter ``shapes`` of the authors' module, the
``inputs`` and the authors' ``outputs``. The weights themselves are not stored: both the
regeneration script (``scripts/parity/``) and the tests draw them with :func:`seeded_state`
from the key names and shapes, so a fixture stays a few kilobytes.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parity"


def seeded_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with a random tensor per key, drawn from a generator seeded by the key's
    name and ``seed`` (independent of order): N(0, 0.1²), plus 1 for 1-d ``.weight`` tensors
    (norm scales), so deep stacks neither vanish nor explode."""
    state = {}
    for key, shape in shapes.items():
        generator = torch.Generator().manual_seed(zlib.crc32(key.encode()) + seed)
        value = torch.randn(tuple(shape), generator=generator) * 0.1
        if len(shape) == 1 and key.endswith(".weight"):
            value += 1.0
        state[key] = value
    return state


def save_fixture(name: str, fixture: dict) -> Path:
    """Write ``fixture`` as ``FIXTURES/name.pt`` (plain containers and tensors only)."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"{name}.pt"
    torch.save(fixture, path)
    return path


def load_fixture(name: str) -> dict:
    """The fixture ``name``, read with ``weights_only=True``."""
    return torch.load(FIXTURES / f"{name}.pt", weights_only=True)
