"""Shared fixtures: a fresh registry per test, the sample manifest, a results store, a
headless browser, tiny random-init networks of the real classes (FID Inception, Mask2Former)."""

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


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory):
    """Torchvision Inception-v3 (1008 classes, no aux head: the keys of
    ``pt_inception-2015-12-05``), random weights and batch-norm statistics, saved as a
    plain state dict. Built from torchvision's class, not ours."""
    import torch
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    net = inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=True)
    state = net.state_dict()
    for key, value in state.items():
        if key.endswith("running_mean"):
            value.copy_(torch.randn_like(value) * 0.1)
        elif key.endswith("running_var"):
            value.copy_(torch.rand_like(value) + 0.5)
    path = tmp_path_factory.mktemp("inception") / "pt_inception-random.pth"
    torch.save(state, path)
    return path


MASK2FORMER_SIZE = 64


@pytest.fixture(scope="session")
def tiny_mask2former(tmp_path_factory) -> Path:
    """A Mask2Former with a 4-stage Swin backbone of width 16 and COCO panoptic's 133
    labels, saved like a hub folder. Random weights, sharpened (confident class logits, no
    no-object, contrasting masks) so that it predicts several thing and stuff segments."""
    import torch
    from transformers import (
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
        SwinConfig,
    )

    backbone = SwinConfig(
        image_size=MASK2FORMER_SIZE, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1],
        num_heads=[1, 1, 2, 2], window_size=4,
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )  # fmt: skip
    config = Mask2FormerConfig(
        backbone_config=backbone, num_labels=133, feature_size=32, mask_feature_size=32,
        hidden_dim=32, encoder_feedforward_dim=32, encoder_layers=1, decoder_layers=2,
        num_attention_heads=2, dim_feedforward=32, num_queries=12,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Mask2FormerForUniversalSegmentation(config).eval()
    with torch.no_grad():
        model.class_predictor.weight.mul_(200)
        model.class_predictor.bias[-1] = -10.0
        embedder = model.model.transformer_module.decoder.mask_predictor.mask_embedder
        for parameter in embedder.parameters():
            parameter.mul_(40)
    folder = tmp_path_factory.mktemp("mask2former-tiny")
    model.save_pretrained(folder)
    Mask2FormerImageProcessor(
        size={"shortest_edge": MASK2FORMER_SIZE, "longest_edge": 2 * MASK2FORMER_SIZE}
    ).save_pretrained(folder)
    return folder
