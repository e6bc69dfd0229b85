"""``semfid-bench train regressor|clu``: train a learned metric on a pair manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from semfid_bench.commands.common import AllowOutsideOption, console, progress_bar
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
    str | None,
    typer.Option(help="ResNet-50 pretraining: imagenet (torchvision) or clip-rn50."),
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
RecipeOption = Annotated[
    str,
    typer.Option(
        help="Defaults for every option below: 'semfid' (ours) or 'thesis' (the thesis "
        "code's choices; docs/metrics.md lists the differences). Explicit options win."
    ),
]
EpochsOption = Annotated[int | None, typer.Option(help="Maximum epochs.")]
LrOption = Annotated[float | None, typer.Option(help="Adam learning rate.")]
BatchOption = Annotated[int | None, typer.Option(help="Pairs per step.")]
SeedOption = Annotated[
    int | None, typer.Option(help="Seed for initialisation, shuffling and splits.")
]
PatienceOption = Annotated[
    int | None,
    typer.Option(help="Stop after this many epochs without a better validation loss."),
]
DeviceOption = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
FinetuneOption = Annotated[
    bool | None,
    typer.Option(
        "--finetune/--freeze-backbone",
        help="Train the backbone too, or only the heads/decoder.",
    ),
]
SizeOption = Annotated[int | None, typer.Option(help="Model input SIZE×SIZE.")]
NormOption = Annotated[
    str | None, typer.Option(help="unit (LPIPS: unit-length features) or none (thesis code).")
]
TapsOption = Annotated[
    str | None,
    typer.Option(help="stage (stage outputs) or block3 (third block of each stage, thesis)."),
]
PreprocessOption = Annotated[
    str | None,
    typer.Option(help="squash (whole image to SIZE²) or crop (timm eval: resize + centre crop)."),
]
BatchNormOption = Annotated[
    str | None,
    typer.Option(help="Backbone BatchNorm while training: eval (fixed) or train (thesis)."),
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
    recipe: RecipeOption = "semfid",
    backbone: BackboneOption = None,
    pretrained: PretrainedOption = "default",
    weights: WeightsOption = None,
    depth: Annotated[
        int | None, typer.Option(help="1–3: use the last depth+1 ResNet stages.")
    ] = None,
    activation: Annotated[str | None, typer.Option(help="relu (reference) or sigmoid.")] = None,
    input_size: SizeOption = None,
    feature_norm: NormOption = None,
    taps: TapsOption = None,
    preprocess: PreprocessOption = None,
    backbone_bn: BatchNormOption = None,
    head_init: Annotated[
        str | None, typer.Option(help="mean (1/C weights) or default (PyTorch's, thesis).")
    ] = None,
    finetune: FinetuneOption = None,
    epochs: EpochsOption = None,
    lr: LrOption = None,
    batch_size: BatchOption = None,
    seed: SeedOption = None,
    patience: PatienceOption = None,
    device: DeviceOption = "auto",
    out: OutOption = None,
    allow_outside_paths: AllowOutsideOption = False,
) -> None:
    """Train the semantic-fidelity regressor (MSE against TARGET)."""
    from semfid_bench.learned.backbones import backbone_config
    from semfid_bench.learned.recipes import model_settings, resolve_recipe
    from semfid_bench.learned.regressor import RegressorConfig

    given = dict(locals())
    s = resolve_recipe("regressor", recipe, {k: given[k] for k in _OVERRIDES + _REG_KEYS})
    config = RegressorConfig(
        backbone=backbone_config(s["backbone"], _pretrained(pretrained)),
        recipe=recipe,
        **model_settings("regressor", s),
    )
    name = f"regressor-{recipe}-{s['backbone']}-d{s['depth']}-{target}-s{s['seed']}"
    columns = ("srcc", "plcc", "mse")
    _train(manifest, config, target, weights, s, device, out, name, columns, allow_outside_paths)


@train_app.command("clu")
def train_clu(
    manifest: ManifestOption,
    recipe: RecipeOption = "semfid",
    backbone: BackboneOption = None,
    pretrained: PretrainedOption = "default",
    weights: WeightsOption = None,
    decoder_width: Annotated[int, typer.Option(help="Channels of the 'semfid' decoder.")] = 64,
    input_size: SizeOption = None,
    feature_norm: NormOption = None,
    taps: TapsOption = None,
    preprocess: PreprocessOption = None,
    backbone_bn: BatchNormOption = None,
    decoder: Annotated[
        str | None, typer.Option(help="semfid or thesis (the reference's decoder).")
    ] = None,
    stem_tap: Annotated[
        str | None, typer.Option(help="output or pre-pool (thesis: before the stem's pool).")
    ] = None,
    loss: Annotated[str | None, typer.Option(help="bce or mse (thesis).")] = None,
    finetune: FinetuneOption = None,
    epochs: EpochsOption = None,
    lr: LrOption = None,
    batch_size: BatchOption = None,
    seed: SeedOption = None,
    patience: PatienceOption = None,
    device: DeviceOption = "auto",
    out: OutOption = None,
    allow_outside_paths: AllowOutsideOption = False,
) -> None:
    """Train CLU, the per-pixel semantic-change map, on the manifest's masks."""
    from semfid_bench.learned.backbones import backbone_config
    from semfid_bench.learned.clu import CLUConfig
    from semfid_bench.learned.recipes import model_settings, resolve_recipe

    given = dict(locals())
    s = resolve_recipe("clu", recipe, {k: given[k] for k in _OVERRIDES + _CLU_KEYS})
    config = CLUConfig(
        backbone=backbone_config(s["backbone"], _pretrained(pretrained)),
        decoder_width=decoder_width,
        recipe=recipe,
        **model_settings("clu", s),
    )
    name = f"clu-{recipe}-{s['backbone']}-s{s['seed']}"
    _train(
        manifest,
        config,
        "mask",
        weights,
        s,
        device,
        out,
        name,
        ("iou", "iou_constant", s["loss"]),
        allow_outside_paths,
    )


# CLI options that override a recipe's value when given
_OVERRIDES = ("backbone", "input_size", "feature_norm", "taps", "preprocess", "backbone_bn",
              "finetune", "epochs", "lr", "batch_size", "seed", "patience")  # fmt: skip
_REG_KEYS = ("depth", "activation", "head_init")
_CLU_KEYS = ("decoder", "stem_tap", "loss")


def _pretrained(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _train(
    manifest, config, target, weights, s, device, out, name, columns, allow_outside_paths
) -> None:
    from semfid_bench.execution.device import resolve_device
    from semfid_bench.learned.checkpoints import checkpoints_dir
    from semfid_bench.learned.recipes import train_model, train_options

    options = train_options(s)
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
            allow_outside_paths=allow_outside_paths,
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
