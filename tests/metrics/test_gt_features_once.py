"""GT-side work runs once per item across SR models, and not at all in a later run."""

import json

import pytest

from semfid_bench.execution.runner import RunConfig, run_benchmark
from semfid_bench.execution.store import ResultsStore
from semfid_bench.metrics.clip_metrics import _image_caches
from semfid_bench.metrics.clip_model import ClipModel, clear_shared_clip_models
from semfid_bench.plugin_api.plugin_manager import build_registry
from semfid_bench.plugin_api.specs import Registration, SRModelSpec


def _bilinear(**kwargs):
    from semfid_bench.sr_models.interpolation import InterpolationUpscaler

    return InterpolationUpscaler(mode="bilinear", **kwargs)


def _run(tmp_path, db_name, tiny_clip, vocabulary):
    registry = build_registry()
    registry.add(Registration("sr_model", SRModelSpec("bilinear", (4,)), _bilinear, "test"))
    splice = {"model": tiny_clip, "pretrained": "none", "image_mean": "none"}
    config = RunConfig(
        models=["bicubic", "nearest", "bilinear"],
        metrics=["clip", "splice-nonsym"],
        degradations=["bicubic"],
        levels=[0.5, 1.0],
        device="cpu",
        options={
            "clip": {"model": tiny_clip, "pretrained": "none"},
            "splice-nonsym": {**splice, "vocabulary_path": str(vocabulary), "l1_penalty": 0.05},
        },
    )
    with ResultsStore(tmp_path / db_name) as store:
        summary = run_benchmark(config, registry, store)
        return summary, store.results()


@pytest.mark.slow
def test_gt_features_computed_once_then_reused(tmp_path, tiny_clip, monkeypatch, isolated_cache):
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("cat\ndog\nastronaut\ncoffee\nrocket\nsky\n")
    encoded: list[int] = []
    original = ClipModel.encode_images

    def counting(self, images):
        encoded.append(images.shape[0])
        return original(self, images)

    monkeypatch.setattr(ClipModel, "encode_images", counting)
    summary, results = _run(tmp_path, "first.db", tiny_clip, vocabulary)
    cells = 4 * 2 * 3  # items × levels × SR models
    assert not summary.errors and summary.computed == cells * 2
    # 4 GT images once (shared by clip and splice, every level and model), SR images once
    # per (cell, metric).
    assert sum(encoded) == 4 + cells * 2
    details = results[results.metric == "splice-nonsym"].details.map(json.loads)
    assert all(set(d) == {"gt_concepts", "sr_concepts", "lost", "gained"} for d in details)

    encoded.clear()
    # A later run in a new process: drop in-memory models and caches, keep the disk cache.
    clear_shared_clip_models()
    _image_caches.clear()
    assert len(list((isolated_cache / "features" / "clip-image").rglob("*.pt"))) == 4
    summary, _ = _run(tmp_path, "second.db", tiny_clip, vocabulary)  # fresh results database
    assert not summary.errors and summary.computed == cells * 2
    assert sum(encoded) == cells * 2  # no GT image embedded again
