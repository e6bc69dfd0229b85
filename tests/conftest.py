"""Shared fixtures: a fresh registry per test, the sample manifest, a results store."""

from __future__ import annotations

from pathlib import Path

import pytest

from semfid_bench.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST
from semfid_bench.store import ResultsStore


@pytest.fixture
def sample_manifest() -> Path:
    return SAMPLE_MANIFEST


@pytest.fixture
def store(tmp_path: Path):
    with ResultsStore(tmp_path / "results.db") as results:
        yield results


@pytest.fixture
def make_registry():
    """Build a registry from the built-ins plus the given plugin objects (no entry points)."""

    def make(*plugins: object):
        loaded = make_plugin_manager(load_entry_points=False)
        for index, plugin in enumerate(plugins):
            loaded.pm.register(plugin, name=f"test-plugin-{index}")
        return build_registry(loaded)

    return make


@pytest.fixture
def crops_manifest(tmp_path: Path) -> Path:
    """Two 96×64 crops of the sample photographs: a real dataset that runs fast on CPU."""
    from PIL import Image

    lines = ['{"format": "semfid-bench-manifest", "version": 1, "name": "crops"}']
    for name in ("chelsea", "coffee"):
        with Image.open(SAMPLE_MANIFEST.parent / f"{name}.png") as photo:
            photo.convert("RGB").crop((100, 60, 196, 124)).save(tmp_path / f"{name}.png")
        lines.append(f'{{"id": "{name}", "gt": "{name}.png"}}')
    path = tmp_path / "crops.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def basicsr():
    """BasicSR 1.4.2, the field's reference for degradations and PSNR/SSIM (tests only).

    Its package ``__init__`` imports ``torchvision.transforms.functional_tensor``, which
    torchvision removed; alias the one function it needs before importing it.
    """
    import sys
    import types

    from torchvision.transforms import functional

    name = "torchvision.transforms.functional_tensor"
    if name not in sys.modules:
        shim = types.ModuleType(name)
        shim.rgb_to_grayscale = functional.rgb_to_grayscale
        sys.modules[name] = shim
    import warnings

    with warnings.catch_warnings():  # its scipy.ndimage.filters import is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        import basicsr as package
    return package


@pytest.fixture
def standin_gpu(monkeypatch):
    """A stand-in CUDA device on CPU for the test's duration (see tests/standin_device.py):
    ``torch.cuda`` reports one GPU and tensors moved to it refuse to mix with CPU ones."""
    from tests.standin_device import StandInDevice, patch_cuda_runtime

    patch_cuda_runtime(monkeypatch)
    with StandInDevice() as mode:
        yield mode
