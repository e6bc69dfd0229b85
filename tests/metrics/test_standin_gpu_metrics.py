"""Every metric runs through the runner on a stand-in GPU (tests/standin_device.py), on tiny
random models of the real classes: CLIP family, captioner + sentence encoder, LPIPS, the
learned metrics, the LR and correctness metrics and the pixel metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.plugin_api.plugin_manager import build_registry

from .test_vlm_captioner import tiny_qwen  # noqa: F401 (fixture)

PLAIN = ["psnr", "psnr-y", "ssim", "ssim-y", "lr-psnr", "lr-mae", "lr-sam", "lr-shift"]
PLAIN += ["improvement", "omission", "hallucination"]
CLIP_FAMILY = ["clip", "semantic-improvement", "semantic-omission", "semantic-hallucination"]
CLIP_FAMILY += ["splice-nonsym", "splice-sym"]  # splice-nouns: same solver, needs WordNet


@pytest.fixture(autouse=True)
def _fresh_shared_models():
    """Process-wide model caches (CLIP, sentence encoder) hold models "on the GPU" of an
    earlier test's stand-in, which this test's stand-in does not know: start without them."""
    from semfid_bench.metrics.clip_model import clear_shared_clip_models
    from semfid_bench.metrics.sentence_embedding import shared_sentence_encoder

    clear_shared_clip_models()
    shared_sentence_encoder.cache_clear()
    yield
    clear_shared_clip_models()
    shared_sentence_encoder.cache_clear()


@pytest.fixture(scope="module")
def learned_checkpoints(tmp_path_factory):
    """A tiny regressor and a tiny CLU, trained one epoch on synthetic pairs."""
    from semfid_bench.learned.backbones import backbone_config
    from semfid_bench.learned.clu import CLUConfig
    from semfid_bench.learned.recipes import train_model
    from semfid_bench.learned.regressor import RegressorConfig
    from semfid_bench.learned.training import TrainOptions
    from tests.learned.synthetic import make_pairs

    root = tmp_path_factory.mktemp("learned")
    pairs = make_pairs(root / "pairs", 12, size=32, seed=1)
    tiny = backbone_config("clip-rn50", None, layers=(1, 1, 1, 1), width=8)
    options = TrainOptions(epochs=1, lr=1e-3, batch_size=4, seed=0, patience=1)
    regressor = RegressorConfig(backbone=tiny, depth=3, input_size=32, finetune=True)
    clu = CLUConfig(backbone=tiny, decoder_width=16, input_size=32, finetune=True)
    return {
        "regressor": train_model(pairs, regressor, options, target="fraction", out=root / "r"),
        "clu": train_model(pairs, clu, options, out=root / "c"),
    }


@pytest.fixture
def metric_options(tmp_path, tiny_clip, tiny_qwen, learned_checkpoints):  # noqa: F811
    from torchvision.models import alexnet

    alexnet_file = tmp_path / "alexnet.pth"
    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), alexnet_file)
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("cat\ndog\nastronaut\ncoffee\nrocket\nsky\n")
    clip = {"model": tiny_clip, "pretrained": "none"}
    splice = {**clip, "image_mean": "none", "vocabulary_path": str(vocabulary)}
    captioner = {"weights": tiny_qwen, "max_new_tokens": 4}
    return {
        "clip": clip,
        **{f"semantic-{w}": clip for w in ("improvement", "omission", "hallucination")},
        **{f"splice-{w}": splice for w in ("nonsym", "sym", "nouns")},
        "c2i": {**clip, "captioner_options": captioner},
        "c2c": {"captioner_options": captioner},
        "lpips": {"alexnet_weights": str(alexnet_file)},
        "regressor": {"checkpoint": str(learned_checkpoints["regressor"].config_path)},
        "clu": {
            "checkpoint": str(learned_checkpoints["clu"].config_path),
            "maps_dir": str(tmp_path / "maps"),
        },
    }


def _run(tmp_path, crops_manifest, metrics, options, device: str):
    config = RunConfig(
        models=["bicubic"],
        metrics=metrics,
        degradations=["bicubic"],
        scale=2,
        device=device,
        manifest=crops_manifest,
        options={f"metric:{m}": options[m] for m in metrics if m in options},
    )
    with ResultsStore(tmp_path / f"{device}.db") as store:
        summary = run_benchmark(config, build_registry(), store)
        results = store.results()
    assert not summary.errors, summary.errors
    assert summary.computed == 2 * len(metrics)
    return results


@pytest.mark.slow
@pytest.mark.parametrize(
    "metrics",
    [PLAIN, CLIP_FAMILY, ["c2c", "c2i"], ["lpips", "regressor", "clu"]],
    ids=["pixel-lr-correctness", "clip-family", "captions", "learned"],
)
def test_every_metric_runs_on_the_standin_gpu(
    metrics, metric_options, tmp_path, crops_manifest, standin_gpu
):
    results = _run(tmp_path, crops_manifest, metrics, metric_options, "auto")
    assert set(results["metric"]) == set(metrics)
    assert {json.loads(e)["device"] for e in results["metric_execution"]} == {"cuda"}
    assert np.isfinite(results["value"].astype(float)).all()
