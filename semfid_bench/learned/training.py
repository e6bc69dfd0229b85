"""Training loops for the regressor and CLU: seeded, with validation and early stopping.

Data: every pair is read once, prepared to the model's input size and kept in memory as
8-bit tensors (N × 2 × 3 × size² bytes; 300 pairs at 224 px ≈ 90 MB). Each epoch shuffles
the training pairs with a generator seeded from ``seed``; after it the validation loss is
computed and the best state so far is kept; training stops after ``patience`` epochs
without improvement and the best state is evaluated on the test split. Early stopping
watches the validation *loss* (MSE or BCE), not SRCC, which is too noisy on a few dozen
pairs to choose epochs by. The thesis recipe instead runs every epoch and keeps the last
state (``TrainOptions.early_stopping=False``).

Same data, options and seed → identical weights on the CPU (same machine, torch build and
thread count). On CUDA cuDNN is in deterministic mode while training (the global flags are
restored after), but bilinear upsampling's backward pass (CLU) uses atomic adds, so GPU runs
can differ in the last bits.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from semfid_bench.datasets.images import read_rgb, to_tensor
from semfid_bench.learned.pairs import Pair


@dataclass(frozen=True)
class TrainOptions:
    """Optimisation settings; the defaults are the reference sweep's (Adam, lr 1e-4,
    30 epochs, batch 5, seed 42) plus ours: a validation split and early stopping.

    :param split: ``semfid`` (train/val/test, see :func:`~semfid_bench.learned.pairs.split_pairs`)
        or ``thesis`` (80/20 as ``torch.utils.data.random_split`` with ``seed``; the test
        split is what each epoch is evaluated on, nothing is selected by it).
    :param early_stopping: stop after ``patience`` epochs without a better validation loss
        and keep the best state; without it every epoch runs and the last state is kept
        (the thesis code).
    """

    epochs: int = 30
    lr: float = 1e-4
    batch_size: int = 5
    seed: int = 42
    patience: int = 5
    split: str = "semfid"
    early_stopping: bool = True


@dataclass
class PairTensors:
    """One split in memory: uint8 images (N, 3, S, S), float targets (N,) or masks
    (N, 1, S, S) in [0, 1]."""

    ids: list[str]
    gt: torch.Tensor
    sr: torch.Tensor
    targets: torch.Tensor | None = None
    masks: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, index: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor, Any]:
        gt = self.gt[index].to(device).float().div_(255.0)
        sr = self.sr[index].to(device).float().div_(255.0)
        labels = self.targets if self.targets is not None else self.masks
        return gt, sr, labels[index].to(device)


Prepare = Callable[[torch.Tensor], torch.Tensor]


def _prepared_uint8(path, prepare: Prepare) -> torch.Tensor:
    image = prepare(to_tensor(read_rgb(path))[None])[0]
    return image.clamp(0, 1).mul(255).round().to(torch.uint8)


def load_split(pairs: list[Pair], prepare: Prepare) -> PairTensors:
    """Read, prepare (the model's :meth:`~semfid_bench.learned.pair_model.PairModel.prepare`)
    and stack one split's images (and masks, when the pairs have them)."""
    gt = torch.stack([_prepared_uint8(p.gt, prepare) for p in pairs])
    sr = torch.stack([_prepared_uint8(p.sr, prepare) for p in pairs])
    targets = masks = None
    if all(p.target is not None for p in pairs):
        targets = torch.tensor([p.target for p in pairs], dtype=torch.float32)
    if all(p.mask is not None for p in pairs):
        masks = torch.stack(
            [_prepared_uint8(p.mask, prepare).float().mean(0, keepdim=True) / 255.0 for p in pairs]
        )
    return PairTensors([p.id for p in pairs], gt, sr, targets, masks)


def regression_metrics(predicted: np.ndarray, target: np.ndarray) -> dict[str, float | None]:
    """SRCC, PLCC and MSE; a correlation that is undefined (constant input) is None."""
    from scipy import stats

    def corr(function) -> float | None:
        if len(target) < 2 or np.ptp(predicted) == 0 or np.ptp(target) == 0:
            return None
        value = float(function(predicted, target)[0])
        return None if math.isnan(value) else value

    return {
        "srcc": corr(stats.spearmanr),
        "plcc": corr(stats.pearsonr),
        "mse": float(np.mean((predicted - target) ** 2)),
    }


def changed_iou(maps: torch.Tensor, masks: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Per-image IoU of the *changed* regions (value < threshold); 1 when both are empty."""
    predicted = maps.flatten(1) < threshold
    truth = masks.flatten(1) < threshold
    intersection = (predicted & truth).sum(1).float()
    union = (predicted | truth).sum(1).float()
    return torch.where(union > 0, intersection / union.clamp_min(1), torch.ones_like(union))


def map_metrics(maps: torch.Tensor, masks: torch.Tensor) -> dict[str, float]:
    """BCE, MSE, mean changed-region IoU, and the IoU of the best constant map (all
    changed)."""
    return {
        "bce": float(F.binary_cross_entropy(maps.clamp(1e-6, 1 - 1e-6), masks)),
        "mse": float(F.mse_loss(maps, masks)),
        "iou": float(changed_iou(maps, masks).mean()),
        "iou_constant": float(changed_iou(torch.zeros_like(masks), masks).mean()),
    }


@dataclass(frozen=True)
class Task:
    """What differs between the regressor and CLU: loss, outputs and metrics."""

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    metrics: Callable[[torch.Tensor, torch.Tensor], dict[str, Any]]
    monitor: str


REGRESSION = Task(
    loss=F.mse_loss,
    metrics=lambda out, y: regression_metrics(out.numpy(), y.numpy()),
    monitor="mse",
)
SEGMENTATION = Task(
    loss=lambda out, y: F.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), y),
    metrics=map_metrics,
    monitor="bce",
)
SEGMENTATION_MSE = Task(loss=F.mse_loss, metrics=map_metrics, monitor="mse")


class Progress:
    """Receives training progress; the CLI draws it."""

    def start(self, epochs: int, steps_per_epoch: int) -> None: ...

    def step(self, loss: float) -> None: ...

    def epoch(self, epoch: int, train_loss: float, val: dict[str, Any]) -> None: ...


@dataclass
class FitResult:
    best_epoch: int
    epochs_run: int
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)


@torch.no_grad()
def predict(model, data: PairTensors, device, batch_size: int = 16) -> torch.Tensor:
    """Model outputs for every pair of a split, on the CPU."""
    model.eval()
    outputs = []
    for start in range(0, len(data), batch_size):
        gt, sr, _ = data.batch(torch.arange(start, min(start + batch_size, len(data))), device)
        outputs.append(model(gt, sr).float().cpu())
    return torch.cat(outputs)


def evaluate(model, task: Task, data: PairTensors, device) -> dict[str, Any]:
    labels = data.targets if data.targets is not None else data.masks
    return task.metrics(predict(model, data, device), labels)


@contextmanager
def deterministic_cudnn() -> Iterator[None]:
    """cuDNN in deterministic mode (no autotuned kernels) while training, and the caller's
    global flags restored after, so training does not change the rest of the process."""
    flags = torch.backends.cudnn
    saved = flags.deterministic, flags.benchmark
    flags.deterministic, flags.benchmark = True, False
    try:
        yield
    finally:
        flags.deterministic, flags.benchmark = saved


@deterministic_cudnn()
def fit(
    model,
    task: Task,
    splits: dict[str, PairTensors],
    options: TrainOptions,
    device,
    progress: Progress | None = None,
) -> FitResult:
    """Train ``model`` in place on ``splits['train']``, early-stopping on ``splits['val']``
    (the best state is restored) unless ``options.early_stopping`` is off (the last state
    is kept); the result is scored on every split."""
    progress = progress or Progress()
    model.to(device)
    train = splits["train"]
    generator = torch.Generator().manual_seed(options.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=options.lr)
    steps = math.ceil(len(train) / options.batch_size)
    progress.start(options.epochs, steps)
    result = FitResult(best_epoch=0, epochs_run=0)
    best_value, best_state, stale = math.inf, copy.deepcopy(model.state_dict()), 0
    for epoch in range(1, options.epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        total = 0.0
        for start in range(0, len(train), options.batch_size):
            gt, sr, labels = train.batch(order[start : start + options.batch_size], device)
            loss = task.loss(model(gt, sr), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            total += value * len(gt)
            progress.step(value)
        val = evaluate(model, task, splits["val"], device)
        train_loss = total / len(train)
        result.history.append({"epoch": epoch, "train_loss": train_loss, "val": val})
        result.epochs_run = epoch
        progress.epoch(epoch, train_loss, val)
        if not options.early_stopping:
            result.best_epoch = epoch
        elif val[task.monitor] < best_value:
            best_value, best_state, stale = val[task.monitor], copy.deepcopy(model.state_dict()), 0
            result.best_epoch = epoch
        else:
            stale += 1
            if stale >= options.patience:
                break
    if options.early_stopping:
        model.load_state_dict(best_state)
    result.metrics = {name: evaluate(model, task, data, device) for name, data in splits.items()}
    return result
