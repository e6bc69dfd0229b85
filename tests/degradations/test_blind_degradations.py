"""Properties both blind-SR degradation models must have: shape, range, determinism, levels."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from semfid_bench.datasets.images import quantize
from semfid_bench.degradations import ops
from semfid_bench.degradations.bicubic import BicubicDownscale
from semfid_bench.plugin_api.seeding import degradation_seed

LEVELS = (0.3, 0.7, 1.0)


@pytest.mark.parametrize("scale", [2, 4])
def test_output_is_exactly_input_over_scale_in_range(model_class, photographs, scale):
    model = model_class(scale=scale)
    hr = photographs["chelsea"]
    for level in (0.0, *LEVELS):
        for seed in range(4):
            lr = model.degrade(hr, level=level, seed=seed)
            assert lr.shape == (3, hr.shape[1] // scale, hr.shape[2] // scale)
            assert lr.dtype == torch.float32 and lr.device == hr.device
            assert torch.isfinite(lr).all()
            assert lr.min() >= 0.0 and lr.max() <= 1.0


def test_size_not_divisible_by_scale_is_a_clear_error(model_class, photographs):
    hr = photographs["chelsea"][:, :, :383]
    with pytest.raises(ValueError, match=r"383x248 is not divisible by the scale 4"):
        model_class(scale=4).degrade(hr, level=0.7, seed=0)


@pytest.mark.parametrize("level", [-0.1, 1.5])
def test_level_outside_unit_interval_is_an_error(model_class, photographs, level):
    with pytest.raises(ValueError, match="outside"):
        model_class(scale=4).degrade(photographs["chelsea"], level=level, seed=0)


def test_repeat_is_bit_identical_and_seeds_differ(model_class, photographs):
    hr = photographs["coffee"]
    first = model_class(scale=4).degrade(hr, level=1.0, seed=123)
    again = model_class(scale=4).degrade(hr, level=1.0, seed=123)
    other = model_class(scale=4).degrade(hr, level=1.0, seed=124)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_result_does_not_depend_on_call_order_or_global_rngs(model_class, photographs):
    model = model_class(scale=4)
    a, b = photographs["astronaut"], photographs["rocket"]
    a_first = model.degrade(a, level=0.7, seed=7)
    model.degrade(b, level=1.0, seed=8)
    np_state, py_state, torch_state = (
        np.random.get_state(),
        random.getstate(),
        torch.get_rng_state(),
    )
    np.random.seed(99)
    random.seed(99)
    torch.manual_seed(99)
    b_first = model_class(scale=4).degrade(b, level=1.0, seed=8)
    a_after = model.degrade(a, level=0.7, seed=7)
    assert torch.equal(a_first, a_after)
    assert torch.equal(b_first, model.degrade(b, level=1.0, seed=8))
    # The global generators are neither used nor advanced.
    np.random.seed(99)
    random.seed(99)
    torch.manual_seed(99)
    expected = (np.random.random(), random.random(), torch.rand(1))
    np.random.seed(99)
    random.seed(99)
    torch.manual_seed(99)
    model.degrade(a, level=1.0, seed=3)
    assert (np.random.random(), random.random(), torch.rand(1)) == expected
    np.random.set_state(np_state)
    random.setstate(py_state)
    torch.set_rng_state(torch_state)


def test_level_zero_is_bicubic_downscaling(model_class, photographs):
    hr = photographs["astronaut"]
    bicubic = BicubicDownscale(scale=4).degrade(hr)
    for seed in range(3):
        assert torch.equal(model_class(scale=4).degrade(hr, level=0.0, seed=seed), bicubic)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a - b) ** 2).mean()))


@pytest.mark.slow
def test_mean_psnr_strictly_decreases_with_level(model_class, model_name, photographs):
    """Six seeds per photograph, the same draws at every level: only the level differs."""
    model = model_class(scale=4)
    means = []
    for level in (0.0, *LEVELS):
        values = []
        for base_seed in range(6):
            for item_id, hr in photographs.items():
                seed = degradation_seed(base_seed, item_id, model_name)
                lr = quantize(model.degrade(hr, level=level, seed=seed))
                up = F.interpolate(lr[None], size=hr.shape[-2:], mode="bicubic")[0].clamp(0, 1)
                values.append(_psnr(up, hr))
        means.append(float(np.mean(values)))
    assert means[0] > means[1] > means[2] > means[3], means


class _Spy:
    """Wraps an ops function, recording its calls and still doing the work."""

    def __init__(self, function):
        self.function = function
        self.calls: list[tuple] = []

    def __call__(self, *args, **kwargs):
        self.calls.append(args)
        return self.function(*args, **kwargs)


def _kernel_spread(kernel: np.ndarray) -> float:
    """Mean squared distance of a kernel's weight from its centroid, in px²."""
    y, x = np.indices(kernel.shape)
    weight = np.abs(kernel) / np.abs(kernel).sum()
    cy, cx = (weight * y).sum(), (weight * x).sum()
    return float((weight * ((y - cy) ** 2 + (x - cx) ** 2)).sum())


def test_jpeg_and_blur_strength_rise_with_level(model_class, photographs, monkeypatch):
    """Through the pipeline: more JPEG steps at lower quality, wider blur kernels."""
    hr = photographs["chelsea"]
    stats = {}
    original_jpeg, original_filter = ops.jpeg, ops.filter_image
    for level in LEVELS:
        jpeg, blur = _Spy(original_jpeg), _Spy(original_filter)
        monkeypatch.setattr(ops, "jpeg", jpeg)
        monkeypatch.setattr(ops, "filter_image", blur)
        for seed in range(16):
            model_class(scale=4).degrade(hr, level=level, seed=seed)
        qualities = [call[1] for call in jpeg.calls]
        spreads = [_kernel_spread(call[1]) for call in blur.calls]
        stats[level] = (len(qualities), np.mean(qualities), np.sum(spreads))
    counts, qualities, spreads = zip(*(stats[level] for level in LEVELS), strict=True)
    assert counts[0] <= counts[1] <= counts[2], stats
    assert qualities[0] > qualities[1] > qualities[2], stats
    assert spreads[0] < spreads[1] < spreads[2], stats


def test_added_noise_variance_rises_with_level(model_class, photographs, monkeypatch):
    """Through the pipeline: the variance each noise step adds grows with the level."""
    hr = photographs["coffee"]
    originals = {
        n: getattr(ops, n) for n in ("gaussian_noise", "correlated_noise", "poisson_noise")
    }
    added = []
    for level in LEVELS:
        variances: list[float] = []
        for name, function in originals.items():

            def measured(image, *args, _function=function, _out=variances, **kwargs):
                out = _function(image, *args, **kwargs)
                _out.append(float(np.var(out - np.clip(image, 0.0, 1.0))))
                return out

            monkeypatch.setattr(ops, name, measured)
        for seed in range(12):
            model_class(scale=4).degrade(hr, level=level, seed=seed)
        added.append(sum(variances))
    assert 0 < added[0] < added[1] < added[2], added


def test_every_published_step_occurs_at_level_one(model_class, model_name, photographs):
    """Over many seeds the trace shows each step of the published model."""
    hr = photographs["rocket"][:, :128, :128]
    realesrgan = {
        "stage 1 iso blur",
        "stage 1 aniso blur",
        "stage 1 resize",
        "stage 1 gaussian noise",
        "stage 1 poisson noise",
        "stage 1 jpeg",
        "stage 2 resize",
        "stage 2 gaussian noise",
        "stage 2 poisson noise",
        "final jpeg",
        "final sinc blur",
        "final resize",
    }
    expected = {
        "bsrgan": {
            "anisotropic gaussian blur",
            "isotropic gaussian blur",
            "pre-downsample",
            "downsample 2",
            "downsample 3",
            "gaussian noise",
            "jpeg",
            "final jpeg",
        },
        "realesrgan": realesrgan,
        "realesrgan-usm": {*realesrgan, "unsharp mask"},
    }[model_name]
    seen: set[str] = set()
    kinds: set[str] = set()
    model = model_class(scale=4)
    for seed in range(40):
        _, steps = model.trace(hr, level=1.0, seed=seed)
        seen.update(step.name for step in steps)
        kinds.update(str(step.params.get("kind")) for step in steps if "noise" in step.name)
    assert expected <= seen, expected - seen
    assert {"grey", "colour"} <= kinds


def test_resampling_strength_scales_with_level_per_image(model_class, monkeypatch):
    """Level 0.3 resamples every image a little, not 30% of them fully (bimodal difficulty).

    Only the resampling steps run (blur, noise and JPEG are identities); the distance of
    each seed's LR image from the clean bicubic one at 0.3 is compared with that at 1.0.
    """
    for name in ("filter_image", "gaussian_noise", "correlated_noise", "poisson_noise", "jpeg"):
        monkeypatch.setattr(ops, name, lambda image, *args, **kwargs: image)
    hr = torch.from_numpy(data.astronaut()[64:192, 192:320].copy()).permute(2, 0, 1) / 255.0
    model = model_class(scale=4)
    clean = model.degrade(hr, level=0.0, seed=0)
    ratios = []
    for seed in range(40):
        low, full = (
            float(((model.degrade(hr, level=level, seed=seed) - clean) ** 2).mean())
            for level in (0.3, 1.0)
        )
        ratios.append(low / full)
    assert min(ratios) > 0.01, sorted(ratios)  # no image escapes resampling at 0.3
    assert 0.05 < np.median(ratios) < 0.6, sorted(ratios)  # and it is weaker than at 1.0
