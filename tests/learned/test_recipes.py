"""``--recipe thesis``: the reference code's split, schedule, preprocessing and decoder."""

from __future__ import annotations

import json

import pytest
import torch

from semfid_bench.learned.clu import CLUConfig, build_clu
from semfid_bench.learned.pair_model import resize_crop
from semfid_bench.learned.pairs import load_pairs, thesis_split
from semfid_bench.learned.recipes import (
    model_settings,
    resolve_recipe,
    train_model,
    train_options,
)
from semfid_bench.learned.regressor import RegressorConfig


def test_thesis_split_is_torch_random_split_with_seed_42(small_pairs):
    from torch.utils.data import random_split

    pairs = [p for p in load_pairs(small_pairs, target="fraction")]
    pairs = [type(p)(p.id, p.gt, p.sr, p.target, p.mask, None) for p in pairs]  # no split field
    splits = thesis_split(pairs, 42)
    train, test = random_split(
        pairs, [int(0.8 * len(pairs)), len(pairs) - int(0.8 * len(pairs))],
        generator=torch.Generator().manual_seed(42),
    )  # fmt: skip
    assert [p.id for p in splits["train"]] == [p.id for p in train]
    assert [p.id for p in splits["test"]] == [p.id for p in test] == [p.id for p in splits["val"]]


def test_crop_preprocessing_is_timms_eval_transform():
    """The reference's processor: timm's eval transform for resnet50_clip.openai."""
    import numpy as np
    import skimage.data
    import timm
    from PIL import Image

    from semfid_bench.datasets.images import to_tensor

    config = timm.data.resolve_data_config({}, pretrained_cfg=timm.models.get_pretrained_cfg(
        "resnet50_clip.openai").to_dict())  # fmt: skip
    transform = timm.data.create_transform(**config, is_training=False)
    mean, std = (
        torch.tensor(config["mean"]).view(3, 1, 1),
        torch.tensor(config["std"]).view(3, 1, 1),
    )
    photo = np.ascontiguousarray(skimage.data.chelsea()[:301, :433])
    expected = transform(Image.fromarray(photo)) * std + mean
    crop_pct = resolve_recipe("regressor", "thesis", {})["crop_pct"]
    ours = resize_crop(to_tensor(photo)[None], 224, crop_pct)[0]
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)


def test_thesis_recipe_runs_every_epoch_keeps_last_state_and_is_recorded(
    small_pairs, tiny_backbone, tmp_path, one_thread
):
    settings = resolve_recipe("regressor", "thesis", {"input_size": 32, "epochs": 3})
    config = RegressorConfig(
        backbone=tiny_backbone, recipe="thesis", **model_settings("regressor", settings)
    )
    options = train_options(settings)
    trained = train_model(small_pairs, config, options, target="fraction", out=tmp_path / "r")
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["model"]["recipe"] == "thesis" and record["model"]["taps"] == "block3"
    assert record["model"]["backbone_bn"] == "train" and record["model"]["head_init"] == "default"
    assert record["training"]["options"]["split"] == "thesis"
    assert record["training"]["epochs_run"] == 3 and record["training"]["best_epoch"] == 3
    assert record["training"]["pairs"]["val"] == record["training"]["pairs"]["test"]
    assert trained.record["training"]["options"]["early_stopping"] is False


def test_thesis_clu_decoder_has_batchnorm_and_a_relu_sigmoid_top(tiny_backbone):
    config = CLUConfig(tiny_backbone, input_size=64, decoder="thesis", stem_tap="pre-pool",
                       taps="block3", feature_norm="none", loss="mse")  # fmt: skip
    model = build_clu(config).eval()
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.ups.modules()) == 7
    gt = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    maps = model(gt, gt.flip(-1))
    assert maps.shape == (2, 1, 64, 64)
    assert (maps >= 0.5).all()  # sigmoid(ReLU(x)), as the reference's CLIP_lpips_Unet


def test_unknown_recipe_is_refused():
    from semfid_bench.plugin_api.errors import SemfidError

    with pytest.raises(SemfidError, match="Unknown recipe"):
        resolve_recipe("clu", "paper", {})
