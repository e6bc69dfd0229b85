"""Per-image features persisted on disk, so GT-side work is done once across runs.

A feature (an embedding, a caption, a sparse decomposition) is stored under
``<cache root>/features/<namespace>/<key[:2]>/<key>.pt`` where the key hashes the image's
content hash together with the configuration that produced the feature (model, weights,
prompt, vocabulary...). Files rather than a table in the results database because features
depend only on image and model, not on an experiment: every results database, every run
and every SR model shares them, and deleting the folder is always safe.

``SEMFID_BENCH_FEATURE_CACHE=0`` turns persistence off (features are then computed in
every run, still once per item within a run).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semfid_bench.plugin_api.weights import cache_root

if TYPE_CHECKING:
    import torch


def persistence_enabled() -> bool:
    return os.environ.get("SEMFID_BENCH_FEATURE_CACHE", "1") not in ("0", "false", "")


def image_hash(image: torch.Tensor) -> str:
    """Content hash of one (3, H, W) image in [0, 1], at 8-bit precision."""
    pixels = image.detach().clamp(0, 1).mul(255).round().to("cpu").byte().contiguous()
    digest = hashlib.sha256(str(tuple(pixels.shape)).encode())
    digest.update(pixels.numpy().tobytes())
    return digest.hexdigest()[:16]


def config_key(config: dict[str, Any]) -> str:
    """Canonical JSON of a configuration, the part of every key that names the model."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class FeatureCache:
    """Features of one kind (``namespace``) made by one configuration."""

    namespace: str
    config: dict[str, Any]
    root: Path | None = None
    _memory: dict[str, Any] = field(default_factory=dict, repr=False)

    def _path(self, content_hash: str) -> Path:
        key = hashlib.sha256(f"{config_key(self.config)}|{content_hash}".encode()).hexdigest()
        root = self.root if self.root is not None else cache_root() / "features"
        return root / self.namespace / key[:2] / f"{key}.pt"

    def _load(self, content_hash: str) -> Any | None:
        if content_hash in self._memory:
            return self._memory[content_hash]
        if not persistence_enabled():
            return None
        path = self._path(content_hash)
        if not path.is_file():
            return None
        import torch

        try:
            value = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            return None  # a truncated or foreign file: recompute and overwrite it
        self._memory[content_hash] = value
        return value

    def _store(self, content_hash: str, value: Any) -> None:
        self._memory[content_hash] = value
        if not persistence_enabled():
            return
        import torch

        path = self._path(content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(value, partial)
        os.replace(partial, path)

    def get_or_compute(
        self,
        hashes: Sequence[str | None],
        compute: Callable[[list[int]], Sequence[Any]],
    ) -> list[Any]:
        """Features for a batch: cached ones loaded, the rest computed in one call.

        :param hashes: content hash per image; None means unknown (computed, not stored).
        :param compute: called with the indices to compute; returns their features in order.
        """
        values: list[Any] = [None] * len(hashes)
        missing = []
        for index, content_hash in enumerate(hashes):
            cached = None if content_hash is None else self._load(content_hash)
            if cached is None:
                missing.append(index)
            else:
                values[index] = cached
        if missing:
            fresh = list(compute(missing))
            if len(fresh) != len(missing):
                raise RuntimeError(f"{self.namespace}: computed {len(fresh)} of {len(missing)}")
            for index, value in zip(missing, fresh, strict=True):
                values[index] = value
                if hashes[index] is not None:
                    self._store(hashes[index], value)
        return values
