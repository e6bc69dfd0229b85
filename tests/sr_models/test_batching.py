"""Every built-in SR model upscales a batch of B = 3 LR images as it upscales them one at a
time, each with its own item's seed (issue 16).

Tolerances (also in docs/plugins.md, "Batches"):

- bit-identical: bicubic, nearest (element-wise interpolation), precomputed (files), and
  the diffusion models sd-x4-upscaler, seesr, pasd, stablesr: they run the pipeline image
  by image, each from a CPU generator seeded with its item's seed
  (``UpscaleContext.image_seeds``), so a batch only saves the Python loop around them;
- within 1e-5 (absolute, images in [0, 1]): bsrgan, realesrgan, swinir: one network pass
  over the whole batch, whose convolutions and attention products oneDNN/BLAS block by
  batch size (float32 sums in another order).

Tiny random-weight checkpoints and pipelines of the real classes, from the fixtures of the
models' own tests (one sampling step; sd-x4-upscaler at its tests' two). The diffusion
models take seconds per image even so: marked slow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from PIL import Image

from semfid_bench.datasets.images import load_image
from semfid_bench.datasets.manifest import Item
from semfid_bench.plugin_api.interfaces import SRModel, UpscaleContext
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST
from semfid_bench.sr_models.checkpoint_models import BSRGAN, RealESRGAN, SwinIR

from .test_pasd import _model as pasd_model
from .test_pasd import tiny_pasd  # noqa: F401  (fixture, used through getfixturevalue)
from .test_sd_x4_upscaler import _model as x4_model
from .test_sd_x4_upscaler import tiny_x4_dir  # noqa: F401
from .test_seesr import _model as seesr_model
from .test_seesr import tiny_seesr  # noqa: F401
from .test_stablesr import _model as stablesr_model
from .test_stablesr import tiny_checkpoints  # noqa: F401

B = 3
EXACT = 0.0
BLAS = 1e-5
SEEDS = (11, 12, 13)
ITEMS = [Item(id=f"item-{i}", gt=Path(f"{i}.png")) for i in range(B)]


def _registry():
    return build_registry(make_plugin_manager(load_entry_points=False))


def _precomputed(request, lr: torch.Tensor) -> SRModel:
    """Outputs written beforehand for the three items (here: distinct noise images)."""
    from semfid_bench.sr_models.precomputed import PrecomputedOutputs

    folder: Path = request.getfixturevalue("tmp_path") / "outputs" / "bicubic@1"
    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    for item in ITEMS:
        pixels = torch.randint(0, 256, (lr.shape[-2] * 4, lr.shape[-1] * 4, 3), generator=generator)
        Image.fromarray(pixels.to(torch.uint8).numpy()).save(folder / f"{item.id}.png")
    return PrecomputedOutputs(scale=4, dir=str(folder.parent))


def _checkpoint(cls, kind: str, variant: str | None = None) -> Callable:
    def build(request, lr) -> SRModel:
        path = request.getfixturevalue("checkpoint_file")(kind)
        return cls(scale=4, device="cpu", weights=str(path), variant=variant)

    return build


def _built_in(name: str) -> Callable:
    return lambda request, lr: _registry().create("sr_model", name, scale=4)


def _diffusion(fixture: str, make: Callable, **options) -> Callable:
    return lambda request, lr: make(request.getfixturevalue(fixture), **options)


@dataclass(frozen=True)
class Case:
    """How to build a model, how close its batch must come, and its LR size in px."""

    build: Callable
    tolerance: float
    side: int = 24
    seeded: bool = False  # draws noise: two items with the same LR image get two samples
    slow: bool = False


MODELS: dict[str, Case] = {
    "bicubic": Case(_built_in("bicubic"), EXACT),
    "nearest": Case(_built_in("nearest"), EXACT),
    "precomputed": Case(_precomputed, EXACT),
    "bsrgan": Case(_checkpoint(BSRGAN, "bsrgan"), BLAS),
    "realesrgan": Case(_checkpoint(RealESRGAN, "realesrgan"), BLAS),
    "swinir": Case(_checkpoint(SwinIR, "swinir"), BLAS),
    "sd-x4-upscaler": Case(_diffusion("tiny_x4_dir", x4_model), EXACT, 16, True, True),
    "seesr": Case(_diffusion("tiny_seesr", seesr_model, steps=1), EXACT, 16, True, True),
    "pasd": Case(_diffusion("tiny_pasd", pasd_model, steps=1), EXACT, 16, True, True),
    "stablesr": Case(
        _diffusion("tiny_checkpoints", stablesr_model, steps=1), EXACT, 16, True, True
    ),
}


def test_every_built_in_sr_model_is_covered():
    built_in = set(_registry().names("sr_model"))
    assert built_in <= set(MODELS), f"add {sorted(built_in - set(MODELS))} to MODELS"


def _lr(side: int) -> torch.Tensor:
    """Crops of a real photograph, ``side`` px square: items 0 and 1 share one."""
    photo = load_image(SAMPLE_MANIFEST.parent / "chelsea.png")
    corners = [(108, 148), (108, 148), (200, 300)]
    return torch.stack([photo[:, y : y + side, x : x + side] for y, x in corners])


def _context(items, seeds) -> UpscaleContext:
    return UpscaleContext(
        items=items, degradation="bicubic", level=1.0, seed=seeds[0], seeds=tuple(seeds)
    )


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if c.slow else n for n, c in MODELS.items()]
)
def test_batch_equals_one_at_a_time_with_per_item_seeds(name, request):
    """Diffusion models: one generator for the batch, or one seed for all its images,
    would fail both the comparison and the two-samples check."""
    case = MODELS[name]
    lr = _lr(case.side)
    model = case.build(request, lr)
    batched = model.upscale(lr, _context(ITEMS, SEEDS))
    singles = torch.cat(
        [
            model.upscale(lr[i : i + 1], _context(ITEMS[i : i + 1], SEEDS[i : i + 1]))
            for i in range(B)
        ]
    )
    assert batched.shape == (B, 3, case.side * 4, case.side * 4)
    assert batched.dtype == torch.float32
    if case.tolerance == EXACT:
        assert torch.equal(batched, singles)
    else:
        torch.testing.assert_close(batched, singles, rtol=0, atol=case.tolerance)
    if case.seeded:
        assert not torch.equal(batched[0], batched[1])


def test_a_context_with_the_wrong_number_of_seeds_is_a_clear_error():
    with pytest.raises(ValueError, match="2 seeds for a batch of 3 images"):
        _context(ITEMS[:2], SEEDS[:2]).image_seeds(3)
    assert _context(ITEMS[:1], SEEDS[:1]).image_seeds(1) == [11]
    shared = UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=5)
    assert shared.image_seeds(2) == [5, 5]
