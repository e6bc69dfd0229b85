"""Model boards from a results frame: ranks, CIs, variants, and their markdown table."""

import math

import pandas as pd
import pytest
from scipy import stats

from semfid_bench.escaping import md_text
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.specs import MetricSpec
from semfid_bench.report.boards import boards_frame, model_boards
from semfid_bench.report.markdown import render_markdown
from semfid_bench.report.stats import mean_ci
from semfid_bench.report.tables import model_table

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
    (by_psnr,) = model_boards(RESULTS, SPECS, "psnr")
    (by_lpips,) = model_boards(RESULTS, SPECS, "lpips")
    assert list(by_psnr.frame["model"]) == ["a", "b"]
    assert list(by_lpips.frame["model"]) == ["b", "a"]
    assert list(by_lpips.frame["rank"]) == [1, 2]


def test_confidence_interval_is_students_t():
    mean, low, high = mean_ci([30.0, 31.0, 29.0])
    expected = stats.t.interval(0.95, 2, loc=30.0, scale=stats.sem([30.0, 31.0, 29.0]))
    assert (mean, low, high) == pytest.approx((30.0, *expected))
    assert math.isnan(mean_ci([1.0])[1])


def to_markdown(boards) -> str:
    return render_markdown([model_table(board) for board in boards])


def test_markdown_shows_direction_rank_metric_and_ci():
    (board,) = model_boards(RESULTS, SPECS, "lpips")
    assert board.title == "d · bsrgan @ 0.3 · x4"
    text = to_markdown([board])
    assert "lpips ↓ ★" in text and "psnr ↑" in text
    half = (mean_ci([0.10, 0.12, 0.11])[2] - mean_ci([0.10, 0.12, 0.11])[1]) / 2
    assert 0.01 < half < 0.1  # two significant digits of the narrowest CI: 3 decimals
    assert f"| 1 | `b` | 3 | 0.110 ± {half:.3f} |" in text


def test_unknown_rank_metric_and_empty_results_are_clear():
    with pytest.raises(SemfidError, match="Cannot rank by 'ssim'"):
        model_boards(RESULTS, SPECS, "ssim")
    with pytest.raises(SemfidError, match="No results"):
        model_boards(RESULTS.iloc[0:0], SPECS)


def test_models_with_options_are_listed_separately():
    other = RESULTS.assign(model_options='{"steps":10}')
    (table,) = model_boards(pd.concat([RESULTS, other]), SPECS, "psnr")
    assert set(table.frame["model"]) == {"a", "b", "a[steps=10]", "b[steps=10]"}


def test_rows_computed_on_another_device_or_precision_are_listed_separately():
    cpu = RESULTS.assign(model_execution='{"device":"cpu"}', model_version=1)
    gpu = RESULTS.assign(model_execution='{"device":"cuda","dtype":"float16"}', model_version=1)
    (table,) = model_boards(pd.concat([cpu, gpu]), SPECS, "psnr")
    models = set(table.frame["model"])
    assert models == {f"{m}@v1 ({e})" for m in "ab" for e in ("cpu", "cuda, dtype=float16")}
    assert set(table.frame["n"]) == {3}


def _labelled(frame: pd.DataFrame, **labels) -> pd.DataFrame:
    return frame.assign(**{f"{column}_label": value for column, value in labels.items()})


def test_ties_share_a_rank_and_a_model_missing_the_ranking_metric_comes_last():
    results = _results(
        {
            ("a", "psnr"): [30.0, 32.0],
            ("b", "psnr"): [31.0, 31.0],
            ("c", "psnr"): [20.0, 21.0],
            ("d", "lpips"): [0.1, 0.2],
        }
    )
    (table,) = model_boards(results, SPECS, "psnr")
    assert list(table.frame["model"])[-1] == "d"
    assert list(table.frame["rank"])[:3] == [1, 1, 3] and math.isnan(table.frame["rank"].iloc[3])
    (line,) = [x for x in to_markdown([table]).splitlines() if "`d`" in x]
    assert line.startswith("| – | `d` | 2 |") and line.endswith("| – |")  # psnr is last


def test_option_variants_are_separate_columns_and_n_does_not_double():
    default = _results({("a", "psnr"): [30.0, 31.0, 29.0], ("b", "psnr"): [25.0, 26.0, 24.0]})
    variant = default.assign(value=default["value"] + 1.0, metric_options='{"crop_border":0}')
    frame = pd.concat(
        [
            _labelled(default.assign(metric_options='{"crop_border":4}'), metric="psnr"),
            _labelled(variant, metric="psnr[crop_border=0]"),
        ]
    )
    (table,) = model_boards(frame, SPECS, "psnr")
    assert table.metrics == ["psnr", "psnr[crop_border=0]"]
    row = table.frame.set_index("model").loc["a"]
    assert row["n"] == 3 and row["psnr_n"] == 3 and row["psnr[crop_border=0]_n"] == 3
    assert row["psnr"] == pytest.approx(30.0) and row["psnr[crop_border=0]"] == pytest.approx(31.0)
    text = to_markdown([table])
    assert "psnr ↑ ★" in text and f"{md_text('psnr[crop_border=0]')} ↑" in text
    with pytest.raises(SemfidError, match="several variants"):
        model_boards(frame.assign(metric_label=frame["metric_label"] + "x"), SPECS, "psnr")


def test_variants_sharing_a_label_are_still_kept_apart():
    """A default changed without a version bump: same label, different key."""
    old = _results({("a", "psnr"): [30.0, 31.0]}).assign(metric_options='{"k":1}')
    new = old.assign(metric_options='{"k":2}', value=old["value"] + 5)
    (table,) = model_boards(_labelled(pd.concat([old, new]), metric="psnr"), SPECS)
    assert sorted(table.metrics) == ["psnr[k=1]", "psnr[k=2]"]


def test_rows_of_superseded_item_inputs_are_left_out():
    old = _results({("a", "psnr"): [10.0, 11.0]}).assign(gt_hash="g", inputs_hash="caption-1")
    new = old.assign(inputs_hash="caption-2", value=[30.0, 31.0])
    (table,) = model_boards(pd.concat([old, new]), SPECS)
    assert table.frame["psnr"].iloc[0] == pytest.approx(30.5) and table.frame["n"].iloc[0] == 2


def test_csv_keeps_full_precision_confidence_intervals():
    _, low, high = mean_ci([30.0, 31.0, 29.0])
    frame = boards_frame(model_boards(RESULTS, SPECS, "psnr"))
    first = frame.iloc[0]
    assert first["model"] == "a" and first["rank_by"] == "psnr"
    assert (first["psnr_low"], first["psnr_high"]) == pytest.approx((low, high), rel=1e-12)
