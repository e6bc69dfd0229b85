"""``semfid-bench study mos``: turn a user study's answers into a rated pair manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import AllowOutsideOption, console, err_console
from semfid_bench.escaping import console as escape

study_app = typer.Typer(
    help="Run your own user study: serve the rating web app, import ratings as MOS.",
    no_args_is_help=True,
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
    from semfid_bench.datasets.manifest import load_manifest
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


@study_app.command("serve")
def study_serve(
    pairs: Annotated[
        Path, typer.Argument(help="The pairs manifest to rate (items with gt and sr).")
    ],
    db: Annotated[Path, typer.Option(help="SQLite file the answers go to (created if missing).")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="SEMFID_STUDY_ADMIN_TOKEN",
            help="Token for the admin pages (at least 8 characters); random if not given.",
        ),
    ] = None,
    raters_per_pair: Annotated[int, typer.Option(help="Raters each pair is shown to.")] = 5,
    trap_rate: Annotated[float, typer.Option(help="Share of shown items that are traps.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the per-rater orders and traps.")] = 0,
    allow_outside_paths: AllowOutsideOption = False,
) -> None:
    """Serve the rating web app: raters answer "is there a semantic change?" per GT/SR pair;
    answers go to --db, which 'study mos' reads directly."""
    import secrets

    from semfid_bench.datasets.manifest import load_manifest
    from semfid_bench.plugin_api.errors import SemfidError

    try:
        import uvicorn

        from semfid_bench.study.webapp import create_app
    except ImportError as exc:
        raise SemfidError(
            f"The rating web app needs {exc.name}.",
            hint="pip install 'semfid-bench[study]'",
        ) from exc
    if admin_token is not None and len(admin_token) < 8:
        raise SemfidError("--admin-token must be at least 8 characters long.")
    token = admin_token or secrets.token_urlsafe(16)
    manifest = load_manifest(pairs, allow_outside_paths=allow_outside_paths)
    app = create_app(manifest, db, token, raters_per_pair, trap_rate, seed)
    schedule = app.state.schedule
    base = f"http://{host}:{port}"
    console.print(
        f"Serving {len(schedule.pairs)} pair(s) and {len(schedule.traps)} trap(s) at "
        f"{escape(base)}/ ; answers go to {escape(str(db))}."
    )
    if admin_token is None:
        console.print(f"Admin page: {escape(base)}/admin?token={escape(token)}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
