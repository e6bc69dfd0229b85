import math

import pandas as pd
import pytest
from scipy import stats

from semfid_bench.errors import SemfidError
from semfid_bench.leaderboard import model_leaderboards, to_markdown
from semfid_bench.specs import MetricSpec
from semfid_bench.stats import mean_ci

SPECS = {
    "psnr": MetricSpec("psnr", higher_is_better=True),
    "lpips": MetricSpec("lpips", higher_is_better=False),
}


def _results(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    rows = []
    for (model, metric), scores in values.items():
        for index, value in enumerate(scores):
            rows.append(
                {
                    "dataset": "d",
                    "degradation": "bsrgan",
                    "level": 0.3,
                    "scale": 4,
                    "model": model,
                    "model_options": "{}",
                    "item_id": f"i{index}",
                    "metric": metric,
                    "value": value,
                }
            )
    return pd.DataFrame(rows)


RESULTS = _results(
    {
        ("a", "psnr"): [30.0, 31.0, 29.0],
        ("a", "lpips"): [0.30, 0.20, 0.25],
        ("b", "psnr"): [25.0, 26.0, 24.0],
        ("b", "lpips"): [0.10, 0.12, 0.11],
    }
)


def test_ranks_follow_each_metrics_direction():
    (by_psnr,) = model_leaderboards(RESULTS, SPECS, "psnr")
    (by_lpips,) = model_leaderboards(RESULTS, SPECS, "lpips")
    assert list(by_psnr.frame["model"]) == ["a", "b"]
    assert list(by_lpips.frame["model"]) == ["b", "a"]
    assert list(by_lpips.frame["rank"]) == [1, 2]


def test_confidence_interval_is_students_t():
    mean, low, high = mean_ci([30.0, 31.0, 29.0])
    expected = stats.t.interval(0.95, 2, loc=30.0, scale=stats.sem([30.0, 31.0, 29.0]))
    assert (mean, low, high) == pytest.approx((30.0, *expected))
    assert math.isnan(mean_ci([1.0])[1])


def test_markdown_shows_direction_rank_metric_and_ci():
    tables = model_leaderboards(RESULTS, SPECS, "lpips")
    text = to_markdown(tables, SPECS)
    assert "## d · bsrgan @ 0.3 · x4" in text
    assert "lpips ↓ ★" in text and "psnr ↑" in text
    half = (mean_ci([0.10, 0.12, 0.11])[2] - mean_ci([0.10, 0.12, 0.11])[1]) / 2
    assert f"| 1 | `b` | 3 | 0.11 ± {half:.2g} |" in text


def test_unknown_rank_metric_and_empty_results_are_clear():
    with pytest.raises(SemfidError, match="Cannot rank by 'ssim'"):
        model_leaderboards(RESULTS, SPECS, "ssim")
    with pytest.raises(SemfidError, match="No results"):
        model_leaderboards(RESULTS.iloc[0:0], SPECS)


def test_models_with_options_are_listed_separately():
    other = RESULTS.assign(model_options='{"steps":10}')
    (table,) = model_leaderboards(pd.concat([RESULTS, other]), SPECS, "psnr")
    assert set(table.frame["model"]) == {"a", "b", "a[steps=10]", "b[steps=10]"}
