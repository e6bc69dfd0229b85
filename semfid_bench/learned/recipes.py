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
from semfid_bench.learned.pairs import data_hash, load_pairs, split_pairs
from semfid_bench.learned.regressor import RegressorConfig, build_regressor
from semfid_bench.learned.training import (
    REGRESSION,
    SEGMENTATION,
    Progress,
    TrainOptions,
    evaluate,
    fit,
    load_split,
)


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
) -> TrainedModel:
    """Train a regressor (on ``target``) or a CLU model (on masks) from a pair manifest.

    :param weights: local backbone weights instead of the pretrained download.
    :param out: checkpoint path stem; nothing is saved when None.
    """
    regressor = isinstance(config, RegressorConfig)
    pairs = load_pairs(manifest, target=target if regressor else None, masks=not regressor)
    splits = split_pairs(pairs, options.seed)
    torch.manual_seed(options.seed)  # before reading images: a missing weights file fails fast
    model = build_regressor(config, weights) if regressor else build_clu(config, weights)
    data = {name: load_split(items, config.input_size) for name, items in splits.items()}
    task = REGRESSION if regressor else SEGMENTATION
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
