"""Shared fixtures: a fresh registry per test, the sample manifest, a results store, a
headless browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST


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


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """The system Chromium, headless, driven by Selenium (offline: no driver download, no
    background networking, a fresh profile); its console log is kept for
    ``browser.get_log("browser")``. Skips where Chromium or its driver is missing."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver "
            "(.ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager download a driver
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture
def standin_gpu(monkeypatch):
    """A stand-in CUDA device on CPU for the test's duration (see tests/standin_device.py):
    ``torch.cuda`` reports one GPU and tensors moved to it refuse to mix with CPU ones."""
    from tests.standin_device import StandInDevice, patch_cuda_runtime

    patch_cuda_runtime(monkeypatch)
    with StandInDevice() as mode:
        yield mode
