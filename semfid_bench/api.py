"""Results and reports as pandas DataFrames and report objects, for notebooks and scripts:
a thin façade over the report model (:mod:`semfid_bench.report.model`).

from semfid_bench import api
api.results("results.db")            # one row per score, with the item's MOS and split
api.model_boards("results.db")       # ranked model boards, one per dataset/degradation/level
api.correlations("results.db")       # the metric leaderboard (agreement with MOS)
api.pairwise("results.db")           # metric A vs metric B, paired bootstrap
api.report("results.db")             # everything a published report shows
api.set_level("results.db")          # FID, KID, ...: one value per set
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from semfid_bench.execution.store import open_store
from semfid_bench.report.boards import ModelBoard
from semfid_bench.report.model import PARTS, Report, ReportOptions, build_report


def results(db: str | Path, *, include_errors: bool = False) -> pd.DataFrame:
    """Every stored score, joined with its item's MOS, split and whether it is paired.

    Each row holds its full key (effective options, versions, input hashes) and readable
    variant labels (``metric_label`` = ``psnr-y[crop_border=0]``); group by the labels to
    keep variants apart. :func:`semfid_bench.report.labels.with_variant_labels` gives the
    frame the reports use."""
    with open_store(db) as store:
        frame, items = store.results(include_errors=include_errors), store.items()
    return frame.merge(items, on=["dataset", "item_id"], how="left")


def report(
    db: str | Path, options: ReportOptions | None = None, *, parts: tuple[str, ...] = PARTS
) -> Report:
    """The report of ``db``: model boards, agreement with MOS and pairwise tests (see
    :func:`semfid_bench.report.model.build_report`)."""
    return build_report(db, options, parts=parts)


def model_boards(db: str | Path, rank_by: str | None = None) -> list[ModelBoard]:
    """The ranked model boards, one per dataset × degradation × level × scale × seed, one
    column per metric variant."""
    return build_report(db, ReportOptions(rank_by=rank_by), parts=("models",)).model_boards


def _agreement(db, parts, resamples, seed, confidence, logistic="4pl") -> Report:
    options = ReportOptions(
        resamples=resamples, seed=seed, confidence=confidence, logistic=logistic
    )
    built = build_report(db, options, parts=parts)
    if built.agreement_problem is not None:
        raise built.agreement_problem
    return built


def set_level(db: str | Path, *, resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Set-level metrics (FID, KID, ...), one value per (dataset, degradation, level, scale,
    seed, model, metric) variant: see :func:`semfid_bench.report.set_level.set_level_boards`."""
    from semfid_bench.report.set_level import set_level_boards

    with open_store(db) as store:
        return set_level_boards(store, resamples=resamples, seed=seed)


def correlations(
    db: str | Path,
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    logistic: str = "4pl",
) -> pd.DataFrame:
    """Agreement of every metric with MOS per dataset × split (see
    :func:`semfid_bench.report.agreement.metric_agreement`)."""
    return _agreement(db, ("agreement",), resamples, seed, confidence, logistic).agreement


def pairwise(
    db: str | Path, *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> pd.DataFrame:
    """Paired bootstrap tests of Δ|SRCC| for every pair of metrics per dataset × split."""
    return _agreement(db, ("pairwise",), resamples, seed, confidence).pairwise


def runs(db: str | Path) -> pd.DataFrame:
    """One row per run: id, times, status and its configuration parsed into columns."""
    frame = build_report(db, parts=()).runs_frame
    configs = pd.json_normalize([json.loads(text) for text in frame["config"]])
    return pd.concat([frame.drop(columns="config"), configs], axis=1)
