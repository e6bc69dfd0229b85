"""``semfid-bench train regressor|clu``: train a learned metric on a pair manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from semfid_bench.commands.common import console, progress_bar
from semfid_bench.escaping import console as escape

train_app = typer.Typer(
    help="Train learned semantic metrics on paired GT/SR manifests.", no_args_is_help=True
)

ManifestOption = Annotated[
    Path,
    typer.Option(
        help="Pair manifest: items with gt, sr and split, plus the target (mos or a "
        "label; regressor) or a mask (clu)."
    ),
]
BackboneOption = Annotated[
    str, typer.Option(help="ResNet-50 pretraining: imagenet (torchvision) or clip-rn50.")
]
PretrainedOption = Annotated[
    str,
    typer.Option(
        help="Backbone weights: 'default' (IMAGENET1K_V1 / openai), a torchvision weights name "
        "or open_clip tag, or 'none' for random initialisation."
    ),
]
WeightsOption = Annotated[
    Path | None, typer.Option(help="Local backbone weights file instead of the download.")
]
EpochsOption = Annotated[int, typer.Option(help="Maximum epochs.")]
LrOption = Annotated[float, typer.Option(help="Adam learning rate.")]
BatchOption = Annotated[int, typer.Option(help="Pairs per step.")]
SeedOption = Annotated[int, typer.Option(help="Seed for initialisation, shuffling and splits.")]
PatienceOption = Annotated[int, typer.Option(help="Stop after this many epochs without a "
                                             "better validation loss.")]  # fmt: skip
DeviceOption = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
FinetuneOption = Annotated[
    bool,
    typer.Option(
        "--finetune/--freeze-backbone", help="Train the backbone too, or only the heads/decoder."
    ),
]
SizeOption = Annotated[int, typer.Option(help="Images are resized to SIZE×SIZE.")]
NormOption = Annotated[
    str, typer.Option(help="unit (LPIPS: unit-length features) or none (thesis code).")
]
OutOption = Annotated[
    Path | None,
    typer.Option(help="Checkpoint path stem (default: the checkpoints folder)."),
]


@train_app.command("regressor")
def train_regressor(
    manifest: ManifestOption,
    target: Annotated[
        str,
        typer.Option(
            help="mos, c2c or c2i (labels holding similarities; the target is 1 − value) or "
            "any other label name."
        ),
    ] = "mos",
    backbone: BackboneOption = "imagenet",
    pretrained: PretrainedOption = "default",
    weights: WeightsOption = None,
    depth: Annotated[int, typer.Option(help="1–3: use the last depth+1 ResNet stages.")] = 2,
    activation: Annotated[str, typer.Option(help="relu (reference) or sigmoid.")] = "relu",
    input_size: SizeOption = 224,
    feature_norm: NormOption = "unit",
    finetune: FinetuneOption = False,
    epochs: EpochsOption = 30,
    lr: LrOption = 1e-4,
    batch_size: BatchOption = 5,
    seed: SeedOption = 42,
    patience: PatienceOption = 5,
    device: DeviceOption = "auto",
    out: OutOption = None,
) -> None:
    """Train the semantic-fidelity regressor (MSE against TARGET)."""
    from semfid_bench.learned.backbones import backbone_config
    from semfid_bench.learned.regressor import RegressorConfig

    config = RegressorConfig(
        backbone=backbone_config(backbone, _pretrained(pretrained)),
        depth=depth,
        activation=activation,
        input_size=input_size,
        finetune=finetune,
        feature_norm=feature_norm,
    )
    name = f"regressor-{backbone}-d{depth}-{target}-s{seed}"
    _train(manifest, config, target, weights, epochs, lr, batch_size, seed, patience, device,
           out, name, ("srcc", "plcc", "mse"))  # fmt: skip


@train_app.command("clu")
def train_clu(
    manifest: ManifestOption,
    backbone: BackboneOption = "imagenet",
    pretrained: PretrainedOption = "default",
    weights: WeightsOption = None,
    decoder_width: Annotated[int, typer.Option(help="Channels of the decoder.")] = 64,
    input_size: SizeOption = 224,
    feature_norm: NormOption = "unit",
    finetune: FinetuneOption = False,
    epochs: EpochsOption = 30,
    lr: LrOption = 1e-4,
    batch_size: BatchOption = 5,
    seed: SeedOption = 42,
    patience: PatienceOption = 5,
    device: DeviceOption = "auto",
    out: OutOption = None,
) -> None:
    """Train CLU, the per-pixel semantic-change map, on the manifest's masks."""
    from semfid_bench.learned.backbones import backbone_config
    from semfid_bench.learned.clu import CLUConfig

    config = CLUConfig(
        backbone=backbone_config(backbone, _pretrained(pretrained)),
        decoder_width=decoder_width,
        input_size=input_size,
        finetune=finetune,
        feature_norm=feature_norm,
    )
    name = f"clu-{backbone}-s{seed}"
    _train(manifest, config, "mask", weights, epochs, lr, batch_size, seed, patience, device,
           out, name, ("iou", "iou_constant", "bce"))  # fmt: skip


def _pretrained(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _train(manifest, config, target, weights, epochs, lr, batch_size, seed, patience, device,
           out, name, columns) -> None:  # fmt: skip
    from semfid_bench.device import resolve_device
    from semfid_bench.learned.checkpoints import checkpoints_dir
    from semfid_bench.learned.recipes import train_model
    from semfid_bench.learned.training import TrainOptions

    options = TrainOptions(epochs, lr, batch_size, seed, patience)
    with _RichTrainingProgress(columns) as progress:
        trained = train_model(
            manifest,
            config,
            options,
            target=target,
            device=resolve_device(device),
            weights=weights,
            out=out or checkpoints_dir() / name,
            progress=progress,
        )
    metrics = trained.record["metrics"]
    table = Table("split", *columns, title="Best epoch "
                  f"{trained.record['training']['best_epoch']}")  # fmt: skip
    for split in ("train", "val", "test", "test_untrained"):
        table.add_row(split, *[_fmt(metrics[split].get(c)) for c in columns])
    console.print(table)
    console.print(f"Saved {escape(trained.weights)} and {escape(trained.config_path)}")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


class _RichTrainingProgress:
    """A rich progress bar over all steps, with a line of validation metrics per epoch."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.columns = columns

    def __enter__(self):
        self._progress = progress_bar(console)
        self._progress.__enter__()
        self._task = None
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def start(self, epochs: int, steps_per_epoch: int) -> None:
        self._task = self._progress.add_task("training", total=epochs * steps_per_epoch)

    def step(self, loss: float) -> None:
        self._progress.update(self._task, advance=1, description=f"training · loss {loss:.4f}")

    def epoch(self, epoch: int, train_loss: float, val: dict) -> None:
        shown = " ".join(f"{c} {_fmt(val.get(c))}" for c in self.columns if c in val)
        self._progress.console.print(f"epoch {epoch}: train loss {train_loss:.4f} · val {shown}")
