"""What ``semfid-bench train`` does: read pairs, split, build the model, fit, save.

Kept apart from the CLI so that tests and notebooks run the same steps.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from semfid_bench.learned.checkpoints import save_checkpoint
from semfid_bench.learned.clu import CLUConfig, build_clu
from semfid_bench.learned.pairs import data_hash, load_pairs, split_pairs, thesis_split
from semfid_bench.learned.regressor import RegressorConfig, build_regressor
from semfid_bench.learned.training import (
    REGRESSION,
    SEGMENTATION,
    SEGMENTATION_MSE,
    Progress,
    TrainOptions,
    evaluate,
    fit,
    load_split,
)

TASKS = {"bce": SEGMENTATION, "mse": SEGMENTATION_MSE}
RECIPES = ("semfid", "thesis")

# What each recipe sets; the CLI's explicit options override any of them. "thesis" is the
# thesis code (Haradai/Measuring-Semantic-Differences-in-the-Super-Resolution-Domain):
# CLIP_lpips_stages_cnn + CLIPLPIPS_REG_training_sweep_example.py for the regressor,
# CLIP_lpips_Unet (models/local_eval_models.py) + CLU_training_sweep_example.py for CLU.
_COMMON = {"activation": "relu", "input_size": 224, "lr": 1e-4, "seed": 42}
REGRESSOR_RECIPES: dict[str, dict[str, Any]] = {
    "semfid": {**_COMMON, "backbone": "imagenet", "depth": 2, "taps": "stage",
               "feature_norm": "unit", "finetune": False, "preprocess": "squash",
               "backbone_bn": "eval", "head_init": "mean", "epochs": 30, "batch_size": 5,
               "patience": 5, "split": "semfid", "early_stopping": True},
    "thesis": {**_COMMON, "backbone": "clip-rn50", "depth": 2, "taps": "block3",
               "feature_norm": "none", "finetune": True, "preprocess": "crop",
               "backbone_bn": "train", "head_init": "default", "epochs": 30, "batch_size": 5,
               "patience": 30, "split": "thesis", "early_stopping": False},
}  # fmt: skip
CLU_RECIPES: dict[str, dict[str, Any]] = {
    "semfid": {**_COMMON, "backbone": "imagenet", "taps": "stage", "feature_norm": "unit",
               "finetune": False, "preprocess": "squash", "backbone_bn": "eval",
               "decoder": "semfid", "stem_tap": "output", "loss": "bce", "epochs": 30,
               "batch_size": 5, "patience": 5, "split": "semfid", "early_stopping": True},
    "thesis": {**_COMMON, "backbone": "clip-rn50", "taps": "block3", "feature_norm": "none",
               "finetune": False, "preprocess": "crop", "backbone_bn": "train",
               "decoder": "thesis", "stem_tap": "pre-pool", "loss": "mse", "epochs": 60,
               "batch_size": 80, "patience": 60, "split": "thesis", "early_stopping": False},
}  # fmt: skip
# timm's eval crop for the reference's backbone (resnet50_clip.openai: crop_pct 0.9); the
# thesis code names no ImageNet model, so that family gets timm's default 0.875.
CROP_PCT = {"clip-rn50": 0.9, "imagenet": 0.875}


def resolve_recipe(kind: str, recipe: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """A recipe's settings with the explicitly given ones (not None) on top."""
    from semfid_bench.plugin_api.errors import SemfidError

    table = REGRESSOR_RECIPES if kind == "regressor" else CLU_RECIPES
    if recipe not in table:
        raise SemfidError(f"Unknown recipe {recipe!r}; known: {', '.join(table)}.")
    settings = {**table[recipe], **{k: v for k, v in overrides.items() if v is not None}}
    settings.setdefault("crop_pct", CROP_PCT[settings["backbone"]])
    if settings["preprocess"] == "squash":
        settings["crop_pct"] = 1.0
    return settings


_MODEL_KEYS = ("input_size", "feature_norm", "taps", "preprocess", "crop_pct", "backbone_bn",
               "finetune")  # fmt: skip
MODEL_KEYS = {
    "regressor": (*_MODEL_KEYS, "depth", "activation", "head_init"),
    "clu": (*_MODEL_KEYS, "decoder", "stem_tap", "loss"),
}
OPTION_KEYS = ("epochs", "lr", "batch_size", "seed", "patience", "split", "early_stopping")


def model_settings(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The architecture fields of :class:`RegressorConfig` / :class:`CLUConfig` in
    resolved recipe ``settings``."""
    return {key: settings[key] for key in MODEL_KEYS[kind]}


def train_options(settings: dict[str, Any]) -> TrainOptions:
    """The :class:`TrainOptions` in resolved recipe ``settings``."""
    return TrainOptions(**{key: settings[key] for key in OPTION_KEYS})


@dataclass
class TrainedModel:
    """A trained model, where it was saved and the record stored with it."""

    model: Any
    weights: Path | None
    config_path: Path | None
    record: dict[str, Any]


def train_model(
    manifest: str | Path,
    config: RegressorConfig | CLUConfig,
    options: TrainOptions,
    *,
    target: str = "mos",
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
    out: str | Path | None = None,
    progress: Progress | None = None,
    allow_outside_paths: bool = False,
) -> TrainedModel:
    """Train a regressor (on ``target``) or a CLU model (on masks) from a pair manifest.

    :param weights: local backbone weights instead of the pretrained download.
    :param out: checkpoint path stem; nothing is saved when None.
    :param allow_outside_paths: as for :func:`~semfid_bench.datasets.manifest.load_manifest`.
    """
    regressor = isinstance(config, RegressorConfig)
    pairs = load_pairs(
        manifest,
        target=target if regressor else None,
        masks=not regressor,
        allow_outside_paths=allow_outside_paths,
    )
    splitter = thesis_split if options.split == "thesis" else split_pairs
    splits = splitter(pairs, options.seed)
    torch.manual_seed(options.seed)  # before reading images: a missing weights file fails fast
    model = build_regressor(config, weights) if regressor else build_clu(config, weights)
    data = {name: load_split(items, model.prepare) for name, items in splits.items()}
    task = REGRESSION if regressor else TASKS[config.loss]
    device = torch.device(device)
    untrained = evaluate(model.to(device), task, data["test"], device)
    started = time.perf_counter()
    result = fit(model, task, data, options, device, progress)
    record = {
        "training": {
            "manifest": str(Path(manifest).resolve()),
            "data_sha256": data_hash(splits),
            "target": target if regressor else "mask",
            "pairs": {name: len(items) for name, items in splits.items()},
            "options": asdict(options),
            "device": str(device),
            "torch": torch.__version__,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "seconds": round(time.perf_counter() - started, 2),
            "history": result.history,
        },
        "metrics": {**result.metrics, "test_untrained": untrained},
    }
    model.to("cpu").eval()
    paths = save_checkpoint(model, out, record) if out is not None else (None, None)
    return TrainedModel(model, paths[0], paths[1], record)
