"""Captions for metrics: the manifest's GT captions when present, else a captioner plugin,
cached per image content and captioner configuration (GT and SR alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from semfid_bench.plugin_api.feature_cache import FeatureCache, image_hash

if TYPE_CHECKING:
    import torch

    from semfid_bench.datasets.manifest import Item
    from semfid_bench.plugin_api.interfaces import Captioner
    from semfid_bench.plugin_api.registry import PluginContext, Registry

DEFAULT_CAPTIONER = "qwen2.5-vl"


def create_captioner(
    name: str, device: Any, options: dict[str, Any] | None = None, registry: Registry | None = None
) -> Captioner:
    """The registered captioner plugin (built-in or third-party) from ``registry``, shared
    by every metric of that registry asking for the same configuration; without one (a
    metric constructed directly, not by a registry), a new one from all installed plugins."""
    if registry is None:
        from semfid_bench.plugin_api.plugin_manager import build_registry

        return build_registry().create("captioner", name, device=device, **(options or {}))
    return registry.shared("captioner", name, device=device, **(options or {}))


def precision_key(captioner: Captioner, device: Any) -> dict[str, str]:
    """The captioner's dtype and device type, which change its captions (half precision and
    GPU kernels decode differently): part of the caption cache key."""
    import torch

    where = getattr(captioner, "device", None) or device or "cpu"
    return {
        "dtype": str(getattr(captioner, "dtype", None)),
        "device_type": torch.device(where).type,
    }


class CaptionSource:
    """GT and SR captions for a metric, created lazily and cached on disk.

    :param name: captioner plugin name; :param options: its factory options;
    :param context: the metric's factory context: the captioner comes from its registry,
        the cache lives under its cache root.
    """

    def __init__(
        self,
        name: str,
        options: dict[str, Any] | None,
        device: Any,
        context: PluginContext | None = None,
    ) -> None:
        self.name = name
        self.options = dict(options or {})
        self.device = device
        self.context = context
        self._captioner: Captioner | None = None
        self._cache: FeatureCache | None = None

    def _ensure(self) -> tuple[Captioner, FeatureCache]:
        if self._captioner is None:
            registry = self.context.registry if self.context else None
            self._captioner = create_captioner(self.name, self.device, self.options, registry)
            config = {"captioner": self.name, **self._captioner.config}
            config |= precision_key(self._captioner, self.device)
            root = self.context.cache_root / "features" if self.context else None
            self._cache = FeatureCache("captions", config, root)
        return self._captioner, self._cache

    def execution(self) -> dict[str, str]:
        """The captioner's dtype and device type, for the key of every result of a metric
        that uses these captions (as in the caption cache key: they change the captions)."""
        captioner = self._ensure()[0]
        return {f"captioner_{k}": v for k, v in precision_key(captioner, self.device).items()}

    @property
    def cache(self) -> FeatureCache:
        return self._ensure()[1]

    def caption(self, images: torch.Tensor, hashes: Sequence[str | None]) -> list[str]:
        """Captions of ``images``; ``hashes`` are their content hashes (cache keys)."""
        captioner, cache = self._ensure()
        return cache.get_or_compute(hashes, lambda idx: captioner.caption(images[idx]))

    def caption_sr(self, images: torch.Tensor) -> list[str]:
        """Captions of SR images, keyed by their pixels."""
        return self.caption(images, [image_hash(image) for image in images])

    def caption_gt(self, gt: torch.Tensor, items: Sequence[Item]) -> list[str]:
        """GT captions: the manifest's where given, the captioner's elsewhere."""
        captions: list[str | None] = [item.caption for item in items]
        missing = [i for i, text in enumerate(captions) if not text]
        if missing:
            hashes = [items[i].gt_hash or image_hash(gt[i]) for i in missing]
            for index, text in zip(missing, self.caption(gt[missing], hashes), strict=True):
                captions[index] = text
        return [str(text) for text in captions]
