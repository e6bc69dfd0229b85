"""Fixtures for degradation tests: the sample photographs and the blind-SR models."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.datasets.images import load_image
from semfid_bench.datasets.manifest import load_manifest
from semfid_bench.degradations.bsrgan import BSRGANDegradation
from semfid_bench.degradations.realesrgan import RealESRGANDegradation, RealESRGANUSMDegradation
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

MODELS = {
    "bsrgan": BSRGANDegradation,
    "realesrgan": RealESRGANDegradation,
    "realesrgan-usm": RealESRGANUSMDegradation,
}


@pytest.fixture(scope="session")
def photographs() -> dict[str, torch.Tensor]:
    """The four sample photographs by item id, as (3, H, W) tensors."""
    return {item.id: load_image(item.gt) for item in load_manifest(SAMPLE_MANIFEST)}


@pytest.fixture(params=sorted(MODELS))
def model_name(request) -> str:
    return request.param


@pytest.fixture
def model_class(model_name: str) -> type:
    return MODELS[model_name]
