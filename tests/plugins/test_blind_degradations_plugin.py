"""The blind-SR degradations are registered, with their levels and scales, and create."""

from __future__ import annotations

import torch

from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager


def test_registered_with_default_levels_and_scales():
    registry = build_registry(make_plugin_manager(load_entry_points=False))
    for name in ("bsrgan", "realesrgan"):
        spec = registry.get("degradation", name).spec
        assert spec.levels == (0.3, 0.7, 1.0) and spec.scales == (2, 4)
        model = registry.create("degradation", name, scale=2, device=torch.device("cpu"))
        assert model.degrade(torch.rand(3, 8, 8), level=0.5, seed=0).shape == (3, 4, 4)
