"""Seeds derived from names, so that results never depend on order or batching."""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed that depends only on ``seed`` and ``parts`` (e.g. item id, level).

    The formula, stable across versions and platforms (stored results depend on it): the
    SHA-256 of ``str(seed)`` and ``repr(part)`` for each part, joined by U+001F and encoded
    as UTF-8; its first 8 bytes as a big-endian integer, shifted right by one bit so the
    seed fits a signed 64-bit integer (``torch.Generator.manual_seed``, numpy)."""
    text = "\x1f".join([str(seed), *(repr(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def degradation_seed(seed: int, item_id: str, degradation: str) -> int:
    """The seed an item is degraded with. The level is left out on purpose: every level of
    an item then draws the same random steps, only at its own strength, so a higher level
    is never milder than a lower one by the luck of the draw."""
    return derive_seed(seed, item_id, degradation)


def model_seed(seed: int, item_id: str, model: str) -> int:
    """The seed an SR model draws its randomness from for an item (same at every level)."""
    return derive_seed(seed, item_id, model)
