"""``semfid-bench dataset select|label|inpaint``: build a study's pair manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import (
    DEFAULT_DB,
    AllowOutsideOption,
    DbOption,
    SetOption,
    console,
    err_console,
    parse_options,
    progress_bar,
    select,
    split_list,
    warn_problems,
)
from semfid_bench.escaping import console as escape

dataset_app = typer.Typer(
    help="Build study datasets: select SR pairs from a run, pseudo-label them, inpaint COCO.",
    no_args_is_help=True,
)


def _low_high(text: str, option: str, example: str) -> tuple[float, float]:
    from semfid_bench.plugin_api.errors import SemfidError

    parts = split_list(text.replace("-", ",", 1) if "," not in text else text)
    try:
        low, high = (float(p) for p in parts)
    except ValueError as exc:
        raise SemfidError(f"Bad {option} {text!r}: expected LOW,HIGH such as {example}.") from exc
    return low, high


@dataset_app.command("select")
def dataset_select(
    images: Annotated[Path, typer.Option(help="Folder the run saved images to (--save-images).")],
    out: Annotated[Path, typer.Option(help="Pairs manifest to write (JSONL).")],
    db: DbOption = DEFAULT_DB,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset in the database (default: its only one).")
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option(help="The GT manifest (default: the one the run recorded).")
    ] = None,
    metrics: Annotated[
        str, typer.Option(help="Comma-separated metrics whose normalised scores must be in band.")
    ] = "ssim,lpips",
    band: Annotated[
        str, typer.Option(help="LOW,HIGH of the min-max normalised scores (1 = best).")
    ] = "0.6,0.8",
    blur_by: Annotated[
        str,
        typer.Option(
            help="Sharpness: 'laplacian' (variance of the Laplacian of the SR image) or a "
            "no-reference metric scored in the run."
        ),
    ] = "laplacian",
    drop_blurriest: Annotated[
        float, typer.Option(help="Fraction of in-band pairs with the lowest sharpness to drop.")
    ] = 0.6,
    count: Annotated[
        int | None, typer.Option(help="Cap: pairs drawn balanced across model/degradation/level.")
    ] = None,
    rank_by: Annotated[
        str | None, typer.Option(help="Instead of a balanced draw, rank by this metric ...")
    ] = None,
    lowest: Annotated[int | None, typer.Option(help="... and keep this many lowest.")] = None,
    test_fraction: Annotated[
        float, typer.Option(help="Share of GT images whose pairs go to the test split.")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the balanced draw and the split.")] = 0,
    allow_outside_paths: AllowOutsideOption = False,
) -> None:
    """Keep pairs with moderate classical scores, drop the most blurred, draw balanced
    (or the lowest by a metric), and write a paired manifest recording every criterion."""
    from semfid_bench.study.selection import SelectionCriteria, select_from_run, write_selection

    criteria = SelectionCriteria(
        metrics=tuple(split_list(metrics)),
        band=_low_high(band, "--band", "0.6,0.8"),
        blur_by=blur_by,
        drop_blurriest=drop_blurriest,
        count=count,
        rank_by=rank_by,
        lowest=lowest,
        test_fraction=test_fraction,
        seed=seed,
    )
    selection, gt_manifest, source = select_from_run(
        db, images, criteria, dataset, manifest, allow_outside_paths
    )
    written = write_selection(selection, gt_manifest, out, source)
    steps = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in selection.counts.items())
    console.print(f"Pairs: {escape(steps)}.")
    console.print(f"Wrote {written} pair(s) to {escape(str(out))}.")


@dataset_app.command("label")
def dataset_label(
    pairs: Annotated[Path, typer.Argument(help="Paired manifest (items with gt and sr).")],
    metrics: Annotated[str, typer.Option(help="Comma-separated metrics to label with.")],
    out: Annotated[
        Path | None, typer.Option(help="Manifest to write (default: replace PAIRS).")
    ] = None,
    db: DbOption = DEFAULT_DB,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    set_: SetOption = None,
    allow_outside_paths: AllowOutsideOption = False,
) -> None:
    """Score the pairs with any metrics (cached in --db, resumable) and write the values
    into each item's labels, e.g. for train regressor --target c2c."""
    from semfid_bench.commands.run import _RichProgress
    from semfid_bench.plugin_api.plugin_manager import build_registry
    from semfid_bench.study.labels import label_pairs

    registry = build_registry()
    warn_problems(registry.problems)
    with _RichProgress() as progress:
        labelling = label_pairs(
            pairs,
            select(metrics, "metric", registry),
            registry,
            db,
            out,
            device=device,
            options=parse_options(set_ or []),
            progress=progress,
            allow_outside_paths=allow_outside_paths,
        )
    summary = labelling.summary
    console.print(
        f"Scored {summary.items} pair(s): {summary.computed} computed, {summary.skipped} "
        f"reused, {len(summary.errors)} errors. Wrote {labelling.written} label(s) to "
        f"{escape(str(out or pairs))}."
    )
    for metric, count in labelling.missing.items():
        if count:
            err_console.print(
                f"[yellow]{count} pair(s) got no {escape(metric)} label "
                "(failed or not finite; see the database).[/]"
            )
    for message in summary.errors[:10]:
        err_console.print(f"[red]error[/] {escape(message)}")
    if summary.errors:
        raise typer.Exit(1)


@dataset_app.command("inpaint")
def dataset_inpaint(
    coco: Annotated[Path, typer.Option(help="COCO root: the folder holding the images.")],
    out: Annotated[Path, typer.Option(help="Manifest to write; images go to OUT's stem folder.")],
    annotations: Annotated[
        Path | None,
        typer.Option(
            help="COCO instances JSON (default: ROOT/annotations/instances_val2017.json)."
        ),
    ] = None,
    count: Annotated[int | None, typer.Option(help="Images to use (default: all).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every choice and of the pipeline.")] = 0,
    pipeline: Annotated[
        str, typer.Option(help="Inpainting pipeline: a hub id or a local folder.")
    ] = "stable-diffusion-v1-5/stable-diffusion-inpainting",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    dtype: Annotated[
        str,
        typer.Option(help="auto (float16 on CUDA), float32, float16, bfloat16 (Flux Fill)."),
    ] = "auto",
    masks_per_image: Annotated[int, typer.Option(help="Instance masks per image, at most.")] = 3,
    min_side: Annotated[int, typer.Option(help="Smallest image side to use (px).")] = 512,
    min_area: Annotated[float, typer.Option(help="Smallest instance area / image area.")] = 0.02,
    max_area: Annotated[float, typer.Option(help="Largest instance area / image area.")] = 0.5,
    positives: Annotated[
        int, typer.Option(help="Partial-denoise (no change) variants per mask.")
    ] = 1,
    strength: Annotated[
        str, typer.Option(help="LOW,HIGH of the partial-denoise strength (noise share).")
    ] = "0.1,0.3",
    dilate: Annotated[int, typer.Option(help="Dilate instance masks by this many px.")] = 8,
    steps: Annotated[int, typer.Option(help="Denoising steps at strength 1.")] = 30,
    guidance: Annotated[
        float | None, typer.Option(help="Guidance scale (default: the pipeline's).")
    ] = None,
    swap_margin: Annotated[
        float, typer.Option(help="Keep a class swap if CLIP sim(target) - sim(source) >= this.")
    ] = 0.0,
    keep_margin: Annotated[
        float,
        typer.Option(help="Keep a no-change variant if sim(source) - best other >= this."),
    ] = 0.0,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="The filter's CLIP: clip.model=NAME, clip.pretrained=TAG_OR_FILE."
        ),
    ] = None,
    test_fraction: Annotated[
        float, typer.Option(help="Share of images whose edits go to the test split.")
    ] = 0.2,
) -> None:
    """Inpaint COCO instance masks with controlled class changes (same class, same
    supercategory, other supercategory; "A {class}.") plus partial-denoise positives,
    filter with CLIP and write a paired (GT, edited, mask) manifest for train clu/regressor."""
    from semfid_bench.execution.device import resolve_device
    from semfid_bench.metrics.clip_model import (
        DEFAULT_MODEL,
        DEFAULT_PRETRAINED,
        shared_clip_model,
    )
    from semfid_bench.plugin_api.errors import SemfidError
    from semfid_bench.study.inpaint import (
        InpaintCriteria,
        build_inpaint_set,
        clip_scorer,
        load_pipeline,
    )

    criteria = InpaintCriteria(
        count=count,
        seed=seed,
        masks_per_image=masks_per_image,
        min_side=min_side,
        min_area=min_area,
        max_area=max_area,
        positives=positives,
        strength=_low_high(strength, "--strength", "0.1,0.3"),
        dilate=dilate,
        steps=steps,
        guidance=guidance,
        swap_margin=swap_margin,
        keep_margin=keep_margin,
        test_fraction=test_fraction,
    )
    criteria.check()
    resolved = str(resolve_device(device))
    options = parse_options(set_ or [])
    clip_options = options.pop("clip", {})
    unknown = sorted(options) + sorted(set(clip_options) - {"model", "pretrained"})
    if unknown:
        raise SemfidError(f"dataset inpaint takes only --set clip.model/clip.pretrained: {unknown}")
    clip = shared_clip_model(
        str(clip_options.get("model", DEFAULT_MODEL)),
        str(clip_options.get("pretrained", DEFAULT_PRETRAINED)),
        resolved,
        option="clip",
    )
    annotations = annotations or coco / "annotations" / "instances_val2017.json"
    if not annotations.is_file():
        raise SemfidError(f"COCO annotations {annotations} do not exist.", hint="--annotations")
    inpainter = load_pipeline(pipeline, resolved, dtype)
    with progress_bar(console) as bar:
        task = bar.add_task("Inpainting", total=None)
        info = build_inpaint_set(
            coco,
            annotations,
            out,
            inpainter,
            lambda texts: clip_scorer(clip, texts),
            criteria,
            record={"clip": clip.config, "device": resolved},
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    steps_done = ", ".join(f"{k} {v}" for k, v in info["counts"].items())
    console.print(f"Inpainting: {escape(steps_done)}.")
    console.print(f"Wrote {info['counts']['kept']} pair(s) to {escape(str(out))}.")
