"""``semfid-bench dataset select|label``: build a study's pair manifest from a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from semfid_bench.commands.common import DEFAULT_DB, DbOption, console, split_list

dataset_app = typer.Typer(
    help="Build study datasets: select SR pairs from a run, pseudo-label them.",
    no_args_is_help=True,
)


def _band(text: str) -> tuple[float, float]:
    from semfid_bench.errors import SemfidError

    parts = split_list(text.replace("-", ",", 1) if "," not in text else text)
    try:
        low, high = (float(p) for p in parts)
    except ValueError as exc:
        raise SemfidError(f"Bad --band {text!r}: expected LOW,HIGH such as 0.6,0.8.") from exc
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
) -> None:
    """Keep pairs with moderate classical scores, drop the most blurred, draw balanced
    (or the lowest by a metric), and write a paired manifest recording every criterion."""
    from semfid_bench.study.selection import SelectionCriteria, select_from_run, write_selection

    criteria = SelectionCriteria(
        metrics=tuple(split_list(metrics)),
        band=_band(band),
        blur_by=blur_by,
        drop_blurriest=drop_blurriest,
        count=count,
        rank_by=rank_by,
        lowest=lowest,
        test_fraction=test_fraction,
        seed=seed,
    )
    selection, gt_manifest, source = select_from_run(db, images, criteria, dataset, manifest)
    written = write_selection(selection, gt_manifest, out, source)
    steps = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in selection.counts.items())
    console.print(f"Pairs: {escape(steps)}.")
    console.print(f"Wrote {written} pair(s) to {escape(str(out))}.")
