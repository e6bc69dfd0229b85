"""SR model lifecycle: which models stay loaded on an executor's device.

Without a memory budget every SR model stays loaded once created (the fastest, and what a
machine with room for them all wants). With ``--gpu-memory GiB`` a model is loaded when
its cells start; models stay resident while the sum of their estimates
(:attr:`~semfid_bench.plugin_api.specs.SRModelSpec.gpu_memory_gib`) fits the budget, the least
recently used ones are released to make room, and a model without an estimate is
released at the end of each chunk of items (it might not fit next to anything).
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class ModelPool:
    """Creates SR models on demand through ``create(name)`` and releases them by the
    budget rules above. ``estimates`` maps a model name to its GPU memory in GiB (None:
    unknown); ``budget_gib`` None keeps everything."""

    def __init__(
        self,
        create: Callable[[str], Any],
        estimates: dict[str, float | None],
        budget_gib: float | None = None,
    ) -> None:
        self._create = create
        self._estimates = estimates
        self._budget = budget_gib
        self._resident: OrderedDict[str, Any] = OrderedDict()
        self.loads: list[str] = []
        """Every model creation in order (for tests and the run summary)."""

    def get(self, name: str) -> Any:
        """``name``'s model, created (after releasing what the budget needs) if absent."""
        if name in self._resident:
            self._resident.move_to_end(name)
            return self._resident[name]
        self._make_room(self._estimates.get(name))
        model = self._create(name)
        self.loads.append(name)
        self._resident[name] = model
        return model

    def end_chunk(self) -> None:
        """Releases the models with no estimate (under a budget) after a chunk."""
        if self._budget is None:
            return
        for name in [n for n in self._resident if self._estimates.get(n) is None]:
            self._release(name)

    def release_all(self) -> None:
        for name in list(self._resident):
            self._release(name)

    def resident(self) -> list[str]:
        """Loaded models, least recently used first."""
        return list(self._resident)

    def _make_room(self, needed: float | None) -> None:
        if self._budget is None:
            return
        if needed is None:  # unknown size: alone on the device
            self.release_all()
            return
        while self._resident and self._used() + needed > self._budget:
            self._release(next(iter(self._resident)))

    def _used(self) -> float:
        return sum(self._estimates.get(n) or 0.0 for n in self._resident)

    def _release(self, name: str) -> None:
        del self._resident[name]
        gc.collect()
        _empty_device_cache()


def _empty_device_cache() -> None:
    """Returns freed blocks of PyTorch's CUDA caching allocator to the driver, so the
    next model (or another process) can use them."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
