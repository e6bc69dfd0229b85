"""Fixtures for metric tests: an isolated cache and a tiny randomly initialised CLIP."""

import json
import os

# huggingface_hub reads HF_HUB_OFFLINE once, at import: set it before anything imports it,
# so offline tests fail fast instead of waiting for DNS.
os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

TINY_CLIP = "semfid-tiny-clip"
_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own cache root and never touches the network."""
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> str:
    """Name of a tiny open_clip architecture (ViT + text transformer, real classes)."""
    import open_clip

    path = tmp_path_factory.mktemp("clip") / f"{TINY_CLIP}.json"
    path.write_text(json.dumps(_CONFIG))
    open_clip.add_model_config(path)
    return TINY_CLIP


@pytest.fixture(scope="session")
def sample_images() -> torch.Tensor:
    """The four sample photographs, centre-cropped to 240×240, as one batch."""
    folder = SAMPLE_MANIFEST.parent
    images = []
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        image = load_image(folder / f"{name}.png")
        h, w = image.shape[-2:]
        top, left = (h - 240) // 2, (w - 240) // 2
        images.append(image[:, top : top + 240, left : left + 240])
    return torch.stack(images)
