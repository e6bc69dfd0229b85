"""What a report page says, in order, as format-free blocks; the renderers (markdown, HTML,
terminal) only turn blocks into their syntax.

Sections take the heading level they start at, so the same section is a top-level part of
``semfid-bench leaderboard``'s page and a subsection of ``publish``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from semfid_bench.report.figures import Figure
from semfid_bench.report.model import Report
from semfid_bench.report.tables import (
    Table,
    agreement_table,
    model_table,
    pairwise_table,
    runs_table,
    set_level_table,
)

MODELS_LEGEND = (
    "Mean ± half-width of the 95% confidence interval (Student's t) over items, with a fixed "
    "number of decimals per metric; ↑ higher is better, ↓ lower is better. "
    "Ranked by the metric marked ★."
)
METRICS_LEGEND = (
    "Agreement with MOS, ranked by |SRCC|. Correlations are signed: a metric whose direction "
    "is opposite to the MOS's correlates negatively. CIs: percentile bootstrap over items "
    "(seeded). PLCC/RMSE (fit): after a monotone logistic mapping of the scores to MOS "
    "(so PLCC (fit) is non-negative whatever the direction). "
    "MSE (norm.): mean squared difference between the score normalised to [0, 1] (declared "
    "range, else min-max over the data) and the MOS, as the reference thesis reports it."
)
PAIRWISE_TITLE = "Does metric A agree better than metric B?"
PAIRWISE_LEGEND = (
    "Δ|SRCC| = |SRCC(A)| − |SRCC(B)| on the items both scored; CI and two-sided p-value from "
    "a paired bootstrap (both metrics on the same resamples), and Williams' t-test for "
    "dependent correlations applied to the same rank correlations."
)
SET_LEVEL_LEGEND = (
    "Set-level metrics: one value per set of items (dataset, degradation, level, model), "
    "reduced from per-item statistics, not a mean over items. CI: 95% percentile bootstrap "
    "over items where the metric allows it (– otherwise). ↑ higher is better, ↓ lower is "
    "better; key: hash of the slice's complete key and its items."
)
MAPS_TITLE = "Where the meaning changed (maps)"
MAPS_LEGEND = (
    "Maps that metrics stored with their scores, for the pairs each metric scores as most "
    "changed (for CLU: blue kept, red changed, drawn over the SR image)."
)


@dataclass(frozen=True)
class Code:
    """User text shown literally (a code span)."""

    text: str


@dataclass(frozen=True)
class Link:
    """User text linking to a file of the report (a path relative to its folder)."""

    text: str
    path: str


Span = str | Code | Link


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    spans: tuple[Span, ...]
    quote: bool = False


@dataclass(frozen=True)
class Items:
    """A list, each entry a sequence of spans."""

    entries: tuple[tuple[Span, ...], ...]
    ordered: bool = False


Block = Heading | Paragraph | Items | Table | Figure


def text(*spans: Span) -> Paragraph:
    return Paragraph(tuple(spans))


def models_section(report: Report, level: int) -> list[Block]:
    """The model boards: legend, one table per slice, the metrics' conventions and the
    per-level plots."""
    blocks: list[Block] = [text(MODELS_LEGEND)]
    for board in report.model_boards:
        blocks += [Heading(level, board.title), model_table(board)]
    specs = (
        {c.spec.name: c.spec for c in report.model_boards[0].columns} if report.model_boards else {}
    )
    conventions = tuple(
        (Code(name), f" {spec.arrow}: {spec.convention}")
        for name, spec in sorted(specs.items())
        if spec.convention
    )
    if conventions:
        blocks += [text("Conventions:"), Items(conventions)]
    return blocks + report.figures_of("models") + set_level_section(report, level)


def set_level_section(report: Report, level: int) -> list[Block]:
    """The set-level metrics (FID, KID, PQ, ...): one value per set, beside the per-item
    means of the model boards."""
    if report.set_level.empty:
        return []
    return [Heading(level, "Set-level metrics"), text(SET_LEVEL_LEGEND),
            set_level_table(report.set_level)]  # fmt: skip


def agreement_section(report: Report, level: int) -> list[Block]:
    """The metric boards (agreement with MOS per dataset and split), the pairwise tests and
    the agreement plots; where there is no agreement, the reason."""
    if report.agreement is None:
        problem = report.agreement_problem
        return [text(problem.message if problem else "Agreement with MOS was not computed.")]
    blocks: list[Block] = [text(report.options.bootstrap_note), text(METRICS_LEGEND)]
    for board in report.agreement_boards:
        blocks += [Heading(level, board.title), agreement_table(board)]
    if report.pairwise is not None and not report.pairwise.empty:
        blocks += [Heading(level, PAIRWISE_TITLE), text(PAIRWISE_LEGEND)]
        blocks.append(pairwise_table(report.pairwise.to_dict("records")))
    return blocks + report.figures_of("metrics")


def maps_section(report: Report, level: int) -> list[Block]:
    maps = report.figures_of("maps")
    return [Heading(level, MAPS_TITLE), text(MAPS_LEGEND), *maps] if maps else []


def explanations_section(report: Report, links: list[tuple[str, str]], level: int) -> list[Block]:
    """The explained pairs: how they were chosen and a link to each one's page."""
    if not links:
        return []
    from semfid_bench.report.explanations import selection_rule

    entries = tuple((Link(label, path),) for label, path in links)
    return [Heading(level, "Explained pairs"), text(selection_rule(report.explanations)),
            Items(entries)]  # fmt: skip


def leaderboard_document(report: Report, kind: str) -> list[Block]:
    """``semfid-bench leaderboard``'s page: the model boards (``models``) or the metric
    boards with the pairwise tests (``metrics``)."""
    if kind == "models":
        return [Heading(1, "semfid-bench leaderboard"), *models_section(report, 2)]
    return [Heading(1, "semfid-bench metric leaderboard"), *agreement_section(report, 2)]


def publish_document(report: Report, item_links: list[tuple[str, str]] = ()) -> list[Block]:
    """``semfid-bench publish``'s page: title and note, metric boards, model boards, maps,
    the explained pairs (``item_links``: label and page path per pair) and the run
    configuration."""
    options = report.options
    blocks: list[Block] = [Heading(1, options.title)]
    if options.note:
        blocks.append(Paragraph((options.note,), quote=True))
    blocks += [Heading(2, "Metrics: agreement with human MOS"), *agreement_section(report, 3)]
    blocks += [Heading(2, "Models"), *models_section(report, 3)]
    blocks += maps_section(report, 2)
    blocks += explanations_section(report, list(item_links), 2)
    blocks += [Heading(2, "Run configuration"), runs_table(report.runs)]
    blocks.append(
        text("Tables as CSV: ", Code("data/"), ". Generated by ", Code("semfid-bench publish"), ".")
    )
    return blocks
