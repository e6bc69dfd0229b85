"""The metric leaderboard built from results and item labels, and how it renders."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.specs import MetricSpec
from semfid_bench.report.agreement import metric_agreement, pairwise_comparisons
from semfid_bench.report.leaderboard import render_leaderboard
from semfid_bench.report.model import Report, ReportOptions

SPECS = {
    "sim": MetricSpec("sim", higher_is_better=True, value_range=(0.0, 1.0)),
    "dist": MetricSpec("dist", higher_is_better=False, value_range=(0.0, math.inf)),
    "flat": MetricSpec("flat", higher_is_better=True),
}


def render_metrics(board: pd.DataFrame, fmt: str) -> str:
    """The metric leaderboard of a report holding ``board``."""
    report = Report(ReportOptions(), SPECS, [], board, None, None, [], pd.DataFrame())
    return render_leaderboard(report, "metrics", fmt)


def frames(n: int = 30, seed: int = 0):
    """Results for three metrics on ``n`` paired items with a MOS of semantic change."""
    rng = np.random.default_rng(seed)
    mos = rng.uniform(0.0, 1.0, size=n)
    values = {
        "sim": np.clip(1.0 - mos + 0.1 * rng.normal(size=n), 0, 1),  # falls as change rises
        "dist": 3.0 * mos + 0.5 * rng.normal(size=n) ** 2,
        "flat": np.full(n, 0.7),
    }
    ids = [f"item{i}" for i in range(n)]
    rows = [
        {
            "dataset": "study",
            "item_id": item,
            "model": "given-sr",
            "model_options": "{}",
            "degradation": "given-sr",
            "level": 1.0,
            "metric": metric,
            "metric_options": "{}",
            "value": float(column[i]),
            "error": None,
            "created_at": "2026-01-01T00:00:00",
        }
        for metric, column in values.items()
        for i, item in enumerate(ids)
    ]
    items = pd.DataFrame(
        {
            "dataset": "study",
            "item_id": ids,
            "mos": mos,
            "split": ["train" if i % 3 else "test" for i in range(n)],
            "paired": True,
        }
    )
    return pd.DataFrame(rows), items


def test_metrics_ranked_by_magnitude_with_signed_values():
    results, items = frames()
    board = metric_agreement(results, items, SPECS, resamples=200)
    overall = board[board["split"] == "all"].set_index("metric")
    assert overall.loc["sim", "srcc"] < -0.7  # a similarity anti-correlates with change
    assert overall.loc["dist", "srcc"] > 0.7
    assert overall.loc["sim", "direction"] == "↑" and overall.loc["dist", "direction"] == "↓"
    ranked = board[board["split"] == "all"]
    magnitudes = ranked["srcc"].abs().dropna().tolist()
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert set(board["split"]) == {"all", "train", "test"}
    assert overall.loc["sim", "n"] == 30
    assert board[board["split"] == "test"].set_index("metric").loc["sim", "n"] == 10


def test_constant_metric_gets_a_reason_not_a_number():
    results, items = frames()
    board = metric_agreement(results, items, SPECS, resamples=50)
    flat = board[(board["split"] == "all") & (board["metric"] == "flat")].iloc[0]
    assert flat["srcc"] is None or pd.isna(flat["srcc"])
    assert pd.isna(flat["rank"])
    assert "metric is constant" in flat["notes"]
    markdown = render_metrics(board, "markdown")
    assert "nan" not in markdown.lower()
    assert "metric is constant" in markdown
    assert "nan" not in render_metrics(board, "html").lower()
    payload = json.loads(render_metrics(board, "json"))
    assert any(row["srcc"] is None for row in payload["metrics"])


def test_missing_mos_and_failed_scores_are_left_out_and_counted():
    results, items = frames()
    items.loc[:4, "mos"] = np.nan
    failed = (results["metric"] == "sim") & results["item_id"].isin(["item10", "item11"])
    results.loc[failed, ["value", "error"]] = [np.nan, "RuntimeError: boom"]
    identical = (results["metric"] == "sim") & (results["item_id"] == "item12")
    results.loc[identical, "value"] = np.inf
    board = metric_agreement(results, items, SPECS, resamples=50)
    sim = board[(board["split"] == "all") & (board["metric"] == "sim")].iloc[0]
    assert sim["n"] == 22
    assert "5 item(s) without MOS" in sim["notes"]
    assert "2 item(s) without a score" in sim["notes"]
    assert "1 item(s) with an infinite score" in sim["notes"]
    assert np.isfinite(sim["srcc"])


def test_too_few_items_in_a_split_is_explained():
    results, items = frames(n=30)
    items["split"] = ["tiny" if i < 2 else "big" for i in range(30)]
    board = metric_agreement(results, items, SPECS, resamples=50)
    tiny = board[(board["split"] == "tiny") & (board["metric"] == "sim")].iloc[0]
    assert "2 item(s); a correlation needs at least 3" in tiny["notes"]
    assert "nan" not in render_metrics(board, "markdown").lower()


def test_no_paired_items_is_a_clear_error():
    results, items = frames()
    items["paired"] = False
    with pytest.raises(SemfidError, match="No paired items"):
        metric_agreement(results, items, SPECS)


def test_unknown_logistic_is_refused():
    results, items = frames()
    with pytest.raises(SemfidError, match="Unknown logistic"):
        metric_agreement(results, items, SPECS, logistic="3pl")


def test_same_seed_same_intervals_different_seed_different():
    results, items = frames()
    first = metric_agreement(results, items, SPECS, resamples=100, seed=1)
    again = metric_agreement(results, items, SPECS, resamples=100, seed=1)
    other = metric_agreement(results, items, SPECS, resamples=100, seed=2)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(
        first["srcc_low"].dropna().astype(float), other["srcc_low"].dropna().astype(float)
    )


def test_latest_score_per_item_is_used():
    results, items = frames()
    stale = results[results["metric"] == "sim"].assign(
        value=0.5, created_at="2025-01-01T00:00:00", model_options='{"old":1}'
    )
    board = metric_agreement(pd.concat([stale, results]), items, SPECS, resamples=50)
    sim = board[(board["split"] == "all") & (board["metric"] == "sim")].iloc[0]
    assert sim["n"] == 30 and sim["srcc"] < -0.7


def test_pairwise_comparison_table():
    results, items = frames()
    tests = pairwise_comparisons(results, items, resamples=200)
    overall = tests[tests["split"] == "all"]
    assert len(overall) == 1  # sim vs dist; the constant metric cannot be compared
    assert set(overall[["metric_a", "metric_b"]].iloc[0]) == {"sim", "dist"}
    assert 0.0 <= overall["p_value"].iloc[0] <= 1.0


def test_no_mos_at_all_is_a_clear_error():
    results, items = frames()
    items["mos"] = np.nan
    with pytest.raises(SemfidError, match="No paired item has a MOS"):
        metric_agreement(results, items, SPECS, resamples=10)


def test_rank_one_is_the_largest_absolute_srcc():
    """The strongest metric anti-correlates: ranking by signed SRCC would put it last."""
    results, items = frames(n=40, seed=3)
    board = metric_agreement(results, items, SPECS, resamples=50)
    for _, group in board.groupby(["dataset", "split"]):
        usable = group[group["srcc"].notna()]
        best = usable.loc[usable["srcc"].astype(float).abs().idxmax()]
        assert best["rank"] == 1 and best["srcc"] < 0
        assert (usable.loc[usable.index != best.name, "rank"] > 1).all()
        assert group.iloc[0]["metric"] == best["metric"]  # listed first too


def test_metrics_share_their_bootstrap_resamples_whatever_the_row_order():
    """Two metrics on the same items see the same resampled items: their CIs are the
    percentiles of SRCC on resamples of the items sorted by id, recomputed here with scipy,
    even when one metric's rows were stored in another order."""
    from scipy import stats

    from semfid_bench.plugin_api.seeding import derive_seed

    results, items = frames(n=20, seed=4)
    results = results[results["metric"] != "flat"]
    sim = results["metric"] == "sim"
    later = results[sim].iloc[::-1].assign(created_at="2026-01-02T00:00:00")
    shuffled = pd.concat([results[~sim], later])  # sim stored in reverse item order
    board = metric_agreement(shuffled, items, SPECS, resamples=300, seed=9)
    overall = board[board["split"] == "all"].set_index("metric")
    by_id = items.set_index("item_id").sort_index()
    rng = np.random.default_rng(derive_seed(9, "study", "all"))
    indices = rng.integers(0, 20, size=(300, 20))
    for metric in ("sim", "dist"):
        values = results[results["metric"] == metric].set_index("item_id")["value"]
        x, y = values.loc[by_id.index].to_numpy(), by_id["mos"].to_numpy()
        resampled = [stats.spearmanr(x[rows], y[rows]).statistic for rows in indices]
        low, high = np.percentile(resampled, [2.5, 97.5])
        assert overall.loc[metric, "srcc_low"] == pytest.approx(low, abs=1e-12)
        assert overall.loc[metric, "srcc_high"] == pytest.approx(high, abs=1e-12)


def test_metrics_without_any_correlation_still_get_ci_columns_and_a_plot(tmp_path):
    from semfid_bench.report.figures import correlation_bars

    results, items = frames()
    flat = results[results["metric"] == "flat"]  # constant scores: no correlation at all
    board = metric_agreement(flat, items, SPECS, resamples=50)
    assert board["srcc"].isna().all() and board["srcc_low"].isna().all()
    (figure,) = correlation_bars(board, tmp_path)
    assert figure.path.stat().st_size > 0 and figure.section == "metrics"
