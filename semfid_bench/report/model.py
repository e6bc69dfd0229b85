"""The report model: everything a report shows, built once from the results database.

Every renderer (terminal, markdown, HTML, CSV/JSON), ``semfid-bench leaderboard``,
``semfid-bench publish`` and :mod:`semfid_bench.api` read a :class:`Report`; none of them
computes a statistic of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from semfid_bench.execution.store import open_store
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.specs import MetricSpec
from semfid_bench.report.agreement import metric_agreement, pairwise_comparisons, scores_with_mos
from semfid_bench.report.boards import ModelBoard, model_boards
from semfid_bench.report.figures import (
    Figure,
    correlation_bars,
    level_plots,
    maps_for,
    scatter_plots,
)
from semfid_bench.report.labels import with_variant_labels

PARTS = ("models", "agreement", "pairwise", "explanations")
"""What a report can hold; ``explanations`` (per-item pages) only ``publish`` asks for."""


@dataclass(frozen=True)
class ReportOptions:
    """How the report is built (recorded on the published page): the page's title and note,
    the ranking metric, the bootstrap and logistic mapping of the agreement statistics, how
    many map figures per map-producing metric, and which pairs get an explanation page
    (``explain`` per model and level, worst on ``explain_by``; SR images from ``images``,
    a run's ``--save-images`` folder)."""

    title: str = "semfid-bench report"
    note: str = ""
    rank_by: str | None = None
    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95
    logistic: str = "4pl"
    maps: int = 4
    explain: int = 2
    explain_by: str | None = None
    images: Path | None = None

    @property
    def bootstrap_note(self) -> str:
        return (
            f"Bootstrap: {self.resamples} resamples, seed {self.seed}, "
            f"{self.confidence:.0%} percentile intervals; {self.logistic} logistic mapping."
        )


@dataclass(frozen=True)
class AgreementBoard:
    """Agreement with MOS of every metric variant on one (dataset, split), ranked by
    |SRCC|: the rows of :func:`~semfid_bench.report.agreement.metric_agreement`."""

    dataset: str
    split: str
    frame: pd.DataFrame

    @property
    def title(self) -> str:
        return f"{self.dataset} · split {self.split}"


@dataclass(frozen=True)
class RunRecord:
    """One run as the report lists it: what was run, with which seed, versions and device."""

    run_id: str
    started: str
    status: str
    dataset: str
    models: str
    levels: str
    metrics: str
    seed: str
    scale: str
    device: str
    versions: str

    @classmethod
    def from_row(cls, run: dict) -> RunRecord:
        """A row of the store's ``runs`` table (its ``config`` is JSON)."""
        config = json.loads(run["config"])
        env = config.get("environment", {})
        levels = "; ".join(
            f"{name} {', '.join(f'{level:g}' for level in values)}"
            for name, values in config.get("degradations", {}).items()
        )
        versions = ", ".join(
            f"{key} {env[key]}"
            for key in ("semfid_bench", "python", "torch", "numpy")
            if key in env
        )
        return cls(
            run_id=str(run["run_id"]),
            started=str(run["started_at"]),
            status=str(run["status"]),
            dataset=str(config.get("dataset", "")),
            models=", ".join(map(str, config.get("models", []))),
            levels=levels,
            metrics=", ".join(map(str, config.get("metrics", []))),
            seed=str(config.get("seed", "")),
            scale=f"x{config.get('scale', '')}",
            device=str(env.get("device", "")),
            versions=versions,
        )


@dataclass
class Report:
    """Everything one report shows. ``agreement``/``pairwise`` are None where they were not
    asked for or cannot be computed (``agreement_problem`` says why); ``figures`` are empty
    unless the report was built with a figures folder; ``explanations`` hold per-item
    explanations (most-changed pairs), written as item pages by ``publish``."""

    options: ReportOptions
    specs: dict[str, MetricSpec]
    model_boards: list[ModelBoard]
    agreement: pd.DataFrame | None
    pairwise: pd.DataFrame | None
    agreement_problem: SemfidError | None
    runs: list[RunRecord]
    runs_frame: pd.DataFrame
    figures: list[Figure] = field(default_factory=list)
    explanations: list = field(default_factory=list)
    set_level: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def agreement_boards(self) -> list[AgreementBoard]:
        if self.agreement is None:
            return []
        return [
            AgreementBoard(str(dataset), str(split), group)
            for (dataset, split), group in self.agreement.groupby(["dataset", "split"], sort=False)
        ]

    def figures_of(self, section: str) -> list[Figure]:
        return [figure for figure in self.figures if figure.section == section]


def build_report(
    db: str | Path,
    options: ReportOptions | None = None,
    *,
    parts: tuple[str, ...] = PARTS,
    figures_dir: Path | None = None,
) -> Report:
    """Read ``db`` once and compute the ``parts`` of the report (model boards, agreement with
    MOS, pairwise tests, explanations of the most changed pairs); with ``figures_dir``, draw
    the figures there (PNG)."""
    options = options or ReportOptions()
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SemfidError(f"Unknown report part(s) {unknown}; choose from {list(PARTS)}.")
    with open_store(db) as store:
        results = store.results(include_errors=True)
        items, specs, runs = store.items(), store.metric_specs(), store.runs()
        set_level = pd.DataFrame()
        if "models" in parts:
            from semfid_bench.report.set_level import set_level_boards

            set_level = set_level_boards(store, resamples=options.resamples, seed=options.seed)
    labelled = with_variant_labels(results)
    scored = labelled[labelled["error"].isna() & labelled["value"].notna()]
    boards = []
    if "models" in parts and not (scored.empty and not set_level.empty):  # set-level only
        boards = model_boards(scored, specs, options.rank_by)
    explanations = []  # before any figure is drawn: a bad explain_by writes nothing
    if "explanations" in parts and boards and options.explain > 0:
        from semfid_bench.plugin_api.plugin_manager import build_registry
        from semfid_bench.report.explanations import explain

        by = options.explain_by or boards[0].rank_by
        explanations = explain(results, specs, by, build_registry(), options.explain)
    stats = {"resamples": options.resamples, "seed": options.seed, "confidence": options.confidence}
    agreement = pairwise = problem = scores = None
    if "agreement" in parts or "pairwise" in parts:
        try:
            scores = scores_with_mos(results, items)
        except SemfidError as exc:
            problem = exc
    if scores is not None and "agreement" in parts:
        agreement = metric_agreement(results, items, specs, logistic=options.logistic, **stats)
    if scores is not None and "pairwise" in parts:
        pairwise = pairwise_comparisons(results, items, **stats)
    figures: list[Figure] = []
    if figures_dir is not None:
        if agreement is not None:
            figures += correlation_bars(agreement, figures_dir)
            figures += scatter_plots(scores, agreement, figures_dir)
        if boards:
            figures += level_plots(scored, boards[0].columns, figures_dir)
        figures += maps_for(scored, specs, figures_dir, options.maps)
    return Report(
        options=options,
        specs=specs,
        model_boards=boards,
        agreement=agreement,
        pairwise=pairwise,
        agreement_problem=problem,
        runs=[RunRecord.from_row(run) for run in runs.to_dict("records")],
        runs_frame=runs,
        figures=figures,
        explanations=explanations,
        set_level=set_level,
    )
