"""Results and agreement with MOS as pandas DataFrames, for notebooks and scripts.

from semfid_bench import api
api.results("results.db")            # one row per score, with the item's MOS and split
api.correlations("results.db")       # the metric leaderboard
api.pairwise("results.db")           # metric A vs metric B, paired bootstrap
api.set_level("results.db")          # FID, KID, ...: one value per set
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from semfid_bench.agreement import metric_agreement, pairwise_comparisons
from semfid_bench.errors import SemfidError
from semfid_bench.leaderboard import LeaderboardTable, model_leaderboards
from semfid_bench.store import ResultsStore


def open_store(db: str | Path) -> ResultsStore:
    """The results database at ``db``; a clear error if there is none."""
    if not Path(db).is_file():
        raise SemfidError(f"No results database at {db}.", hint="Run `semfid-bench run` first.")
    return ResultsStore(db)


def results(db: str | Path, *, include_errors: bool = False) -> pd.DataFrame:
    """Every stored score, joined with its item's MOS, split and whether it is paired.

    Each row holds its full key (effective options, versions, input hashes) and readable
    variant labels (``metric_label`` = ``psnr-y[crop_border=0]``); group by the labels to
    keep variants apart. :func:`semfid_bench.leaderboard.with_variant_labels` gives the
    frame the reports use."""
    with open_store(db) as store:
        frame, items = store.results(include_errors=include_errors), store.items()
    return frame.merge(items, on=["dataset", "item_id"], how="left")


def models(db: str | Path, rank_by: str | None = None) -> list[LeaderboardTable]:
    """The model leaderboards, one table per dataset × degradation × level × scale × seed,
    one column per metric variant."""
    with open_store(db) as store:
        return model_leaderboards(store.results(include_errors=True), store.metric_specs(), rank_by)


def set_level(db: str | Path, *, resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Set-level metrics (FID, KID, ...), one value per (dataset, degradation, level, scale,
    seed, model, metric) variant: see :func:`semfid_bench.set_metrics.set_level_boards`."""
    from semfid_bench.set_metrics import set_level_boards

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
    :func:`semfid_bench.agreement.metric_agreement`)."""
    with open_store(db) as store:
        return metric_agreement(
            store.results(include_errors=True),
            store.items(),
            store.metric_specs(),
            resamples=resamples,
            seed=seed,
            confidence=confidence,
            logistic=logistic,
        )


def pairwise(
    db: str | Path, *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> pd.DataFrame:
    """Paired bootstrap tests of Δ|SRCC| for every pair of metrics per dataset × split."""
    with open_store(db) as store:
        return pairwise_comparisons(
            store.results(include_errors=True),
            store.items(),
            resamples=resamples,
            seed=seed,
            confidence=confidence,
        )


def runs(db: str | Path) -> pd.DataFrame:
    """One row per run: id, times, status and its configuration parsed into columns."""
    with open_store(db) as store:
        frame = store.runs()
    configs = pd.json_normalize([json.loads(text) for text in frame["config"]])
    return pd.concat([frame.drop(columns="config"), configs], axis=1)
