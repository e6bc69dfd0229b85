"""``semfid-bench study mos``: turn a user study's answers into a rated pair manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import AllowOutsideOption, console, err_console
from semfid_bench.escaping import console as escape

study_app = typer.Typer(
    help="Run your own user study: import ratings as MOS.", no_args_is_help=True
)


@study_app.command("mos")
def study_mos(
    answers: Annotated[
        Path,
        typer.Argument(
            help="Answers CSV (rater, pair_id, answer yes/no, optional is_trap, expected) or "
            "a study SQLite database with an 'answers' table of those columns."
        ),
    ],
    pairs: Annotated[
        Path, typer.Option(help="The pairs manifest the raters saw (gives the gt/sr paths).")
    ],
    out: Annotated[Path, typer.Option(help="Rated manifest to write (JSONL).")],
    min_trap_accuracy: Annotated[
        float, typer.Option(help="Drop raters whose share of correct trap answers is lower.")
    ] = 0.9,
    confidence: Annotated[float, typer.Option(help="Confidence of the Wilson MOS CIs.")] = 0.95,
    allow_outside_paths: AllowOutsideOption = False,
) -> None:
    """MOS (share of "yes") per pair with a Wilson CI, after dropping raters who fail the
    traps; Krippendorff's alpha; writes a manifest for leaderboard and train regressor."""
    from semfid_bench.manifest import load_manifest
    from semfid_bench.study.answers import read_answers
    from semfid_bench.study.mos import score_study, write_rated_manifest

    manifest = load_manifest(pairs, allow_outside_paths=allow_outside_paths)
    scores = score_study(read_answers(answers), min_trap_accuracy, confidence)
    written, unrated = write_rated_manifest(manifest, scores, out, str(answers))
    raters = len(scores.kept) + len(scores.dropped)
    console.print(
        f"Raters: {raters}, dropped {len(scores.dropped)} below trap accuracy "
        f"{min_trap_accuracy:g} (or without trap answers), kept {len(scores.kept)}."
    )
    if scores.dropped:
        shown = ", ".join(escape(repr(r)) for r in scores.dropped[:20])
        console.print(f"[dim]Dropped: {shown}{' ...' if len(scores.dropped) > 20 else ''}[/]")
    if scores.duplicates:
        console.print(f"{scores.duplicates} repeated answer(s) replaced by the rater's last.")
    alpha = "n/a" if scores.alpha is None else f"{scores.alpha:.3f}"
    console.print(f"Krippendorff's alpha (nominal, kept raters, non-trap pairs): {alpha}")
    if unrated:
        err_console.print(f"[yellow]{len(unrated)} pair(s) of the manifest got no answers.[/]")
    console.print(f"Wrote {written} rated pair(s) to {escape(str(out))}.")
