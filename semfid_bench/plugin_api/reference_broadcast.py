"""A metric's GT-side reference matched to a batch of SR images.

The runner may score B SR images of one item (every model and level) against a reference
built once from that item's GT, or B SR images of B items against a reference built from
their B GTs. :func:`broadcast_reference` turns either into one entry per SR image, so a
metric's ``score`` handles both alike.
"""

from __future__ import annotations

from typing import Any

import torch


def broadcast_reference(reference: Any, batch: int) -> Any:
    """``reference`` with one entry per SR image of a batch of ``batch``.

    Per-image entries are tensors (leading dimension) and lists (length): one built from a
    single GT is repeated ``batch`` times (tensors as an expanded view, no copy), one built
    from ``batch`` GTs is returned as it is. Tuples and dicts are structures: their members
    are matched in turn. Anything else (None, numbers, strings) is shared as it is.
    """
    if isinstance(reference, torch.Tensor):
        _check(reference.shape[0] if reference.dim() else 0, batch)
        return reference.expand(batch, *reference.shape[1:])
    if isinstance(reference, list):
        _check(len(reference), batch)
        return reference * batch if len(reference) == 1 else reference
    if isinstance(reference, tuple):
        return tuple(broadcast_reference(member, batch) for member in reference)
    if isinstance(reference, dict):
        return {key: broadcast_reference(value, batch) for key, value in reference.items()}
    return reference


def _check(size: int, batch: int) -> None:
    if size not in (1, batch):
        raise ValueError(
            f"a reference built from {size} GT images cannot score {batch} SR images "
            "(expected one GT for all, or one per SR image)"
        )
