"""Agreement statistics: equal to scipy, recover known answers, explain degenerate input."""

import math

import numpy as np
import pytest
from scipy import stats

from semfid_bench.report.stats import (
    agreement,
    bootstrap_indices,
    check_pairs,
    compare_agreement,
    fit_logistic,
    logistic4,
    logistic5,
    normalise_scores,
    resampled_correlations,
    williams_test,
)


def expected_srcc(noise: float) -> float:
    """Population SRCC of z and z + noise·e for standard normals (Pearson's formula)."""
    r = 1.0 / math.sqrt(1.0 + noise**2)
    return 6.0 / math.pi * math.asin(r / 2.0)


def monotone_with_noise(n: int, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    mos = rng.normal(size=n)
    scores = np.exp(mos + noise * rng.normal(size=n))  # monotone transform of MOS + noise
    return scores, mos


def test_point_estimates_equal_scipy():
    scores, mos = monotone_with_noise(80, 0.7, seed=3)
    row = agreement(scores, mos, resamples=50)
    assert row["srcc"] == pytest.approx(stats.spearmanr(scores, mos).statistic, abs=1e-12)
    assert row["krcc"] == pytest.approx(stats.kendalltau(scores, mos).statistic, abs=1e-12)
    assert row["plcc"] == pytest.approx(stats.pearsonr(scores, mos).statistic, abs=1e-12)
    assert row["n"] == 80


@pytest.mark.parametrize("n", [40, 230])  # vectorised Kendall, and scipy's per resample
def test_resampled_correlations_equal_scipy_per_resample(n):
    scores, mos = monotone_with_noise(n, 0.5, seed=4)
    scores[::7] = scores[0]  # ties, which rankdata must average like scipy does
    indices = bootstrap_indices(n, 3, seed=1)
    values = resampled_correlations(scores, mos, indices)
    for k, rows in enumerate(indices):
        x, y = scores[rows], mos[rows]
        assert values["srcc"][k] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
        assert values["krcc"][k] == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
        assert values["plcc"][k] == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)


def test_bootstrap_ci_agrees_with_scipy_bootstrap():
    scores, mos = monotone_with_noise(80, 0.6, seed=5)
    row = agreement(scores, mos, resamples=1500, seed=0)
    reference = stats.bootstrap(
        (scores, mos),
        lambda x, y: stats.spearmanr(x, y).statistic,
        paired=True,
        vectorized=False,
        n_resamples=1500,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert row["srcc_low"] == pytest.approx(reference.low, abs=0.03)
    assert row["srcc_high"] == pytest.approx(reference.high, abs=0.03)


def test_srcc_of_noisy_monotone_transform_is_recovered_within_ci():
    scores, mos = monotone_with_noise(300, 0.5, seed=11)
    row = agreement(scores, mos, resamples=1000, seed=2)
    assert row["srcc_low"] <= expected_srcc(0.5) <= row["srcc_high"]
    assert row["srcc_high"] - row["srcc_low"] < 0.1


def test_srcc_ci_coverage_is_near_nominal():
    covered = 0
    for seed in range(30):
        scores, mos = monotone_with_noise(100, 1.0, seed=100 + seed)
        row = agreement(scores, mos, resamples=300, seed=seed)
        covered += row["srcc_low"] <= expected_srcc(1.0) <= row["srcc_high"]
    assert covered >= 24  # nominal 95% of 30 = 28.5; binomial slack


def test_anticorrelated_metric_keeps_its_sign():
    scores, mos = monotone_with_noise(60, 0.3, seed=6)
    row = agreement(-scores, mos, resamples=100)
    assert row["srcc"] < -0.8 and row["srcc_high"] < 0
    assert row["plcc_fit"] > 0.8  # the logistic mapping absorbs the direction


def test_logistic4_fit_recovers_parameters():
    rng = np.random.default_rng(7)
    x = rng.uniform(10.0, 40.0, size=200)  # PSNR-like units
    truth = (0.9, 0.1, 25.0, 3.0)
    y = logistic4(x, *truth) + 0.01 * rng.normal(size=x.size)
    fit = fit_logistic(x, y, "4pl")
    assert fit.converged and fit.message == ""
    assert fit.params == pytest.approx(truth, rel=0.05, abs=0.02)


def test_logistic4_fit_of_a_decreasing_relation():
    rng = np.random.default_rng(8)
    x = rng.uniform(0.0, 1.0, size=150)
    truth = (0.05, 0.85, 0.4, 0.08)  # b1 < b2: MOS falls as the score rises
    y = logistic4(x, *truth) + 0.01 * rng.normal(size=x.size)
    fit = fit_logistic(x, y, "4pl")
    assert fit.params == pytest.approx(truth, rel=0.08, abs=0.02)


def test_logistic5_fit_recovers_parameters():
    rng = np.random.default_rng(9)
    x = rng.uniform(0.0, 10.0, size=300)
    truth = (1.0, 0.8, 5.0, 0.02, 0.3)
    y = logistic5(x, *truth) + 0.005 * rng.normal(size=x.size)
    fit = fit_logistic(x, y, "5pl")
    assert fit.converged
    assert fit.params == pytest.approx(truth, rel=0.05, abs=0.01)
    assert np.abs(fit.predict(x) - logistic5(x, *truth)).max() < 0.01


def test_logistic_fit_reports_why_it_failed():
    assert "constant" in fit_logistic([2.0] * 10, np.linspace(0, 1, 10)).message
    few = fit_logistic([1.0, 2.0, 3.0], [0.1, 0.5, 0.9])
    assert not few.converged and "cannot fit 4 parameters" in few.message
    with pytest.raises(ValueError, match="did not converge"):
        few.predict([1.0])


def test_normalisation_uses_declared_range_else_min_max():
    values = np.array([0.2, 0.5, 0.8])
    declared, how = normalise_scores(values, (0.0, 1.0))
    assert declared.tolist() == pytest.approx([0.2, 0.5, 0.8]) and "declared" in how
    unbounded, how = normalise_scores(np.array([20.0, 30.0, 40.0]), (0.0, math.inf))
    assert unbounded.tolist() == pytest.approx([0.0, 0.5, 1.0]) and "min-max" in how


def test_mse_is_of_the_normalised_score():
    mos = np.array([0.1, 0.4, 0.5, 0.9])
    scores = np.array([0.2, 0.3, 0.7, 0.8])
    row = agreement(scores, mos, value_range=(0.0, 1.0), resamples=20)
    assert row["mse"] == pytest.approx(np.mean((scores - mos) ** 2))


@pytest.mark.parametrize(
    ("scores", "mos", "message"),
    [
        ([0.5, 0.5, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4], "metric is constant"),
        ([0.1, 0.2], [0.3, 0.4], "at least 3"),
        ([0.1, float("nan"), 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "NaN or infinite"),
        ([0.1, 0.2, 0.3, 0.4], [0.1, None, 0.3, 0.4], "NaN or infinite"),
        ([0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.5, 0.5], "MOS is constant"),
    ],
)
def test_degenerate_input_is_refused_with_a_reason(scores, mos, message):
    mos = [math.nan if m is None else m for m in mos]
    with pytest.raises(ValueError, match=message):
        check_pairs(scores, mos)
    with pytest.raises(ValueError, match=message):
        agreement(scores, mos)


def test_paired_comparison_detects_the_better_metric():
    rng = np.random.default_rng(10)
    mos = rng.normal(size=150)
    good = mos + 0.3 * rng.normal(size=150)
    poor = -(mos + 2.0 * rng.normal(size=150))  # opposite direction, much noisier
    indices = bootstrap_indices(150, 1000, seed=0)
    test = compare_agreement(good, poor, mos, indices)
    assert test["delta"] > 0 and test["delta_low"] > 0 and test["p_value"] < 0.01
    assert test["williams_t"] > 0 and test["williams_p"] < 0.01
    same = compare_agreement(good, good * 2.0 + 1.0, mos, indices)
    assert same["delta"] == pytest.approx(0.0) and same["p_value"] == 1.0


def test_williams_test_holds_its_size_under_the_null_and_is_antisymmetric():
    rng = np.random.default_rng(12)
    rejections, trials = 0, 400
    for _ in range(trials):
        mos = rng.normal(size=60)
        a, b = mos + rng.normal(size=60), mos + rng.normal(size=60)  # equally good
        r_am, r_bm = np.corrcoef(a, mos)[0, 1], np.corrcoef(b, mos)[0, 1]
        r_ab = np.corrcoef(a, b)[0, 1]
        t, p = williams_test(r_am, r_bm, r_ab, 60)
        assert williams_test(r_bm, r_am, r_ab, 60) == pytest.approx((-t, p))
        rejections += p < 0.05
    assert 0.02 <= rejections / trials <= 0.09


def test_williams_test_undefined_cases_are_nan():
    assert all(math.isnan(v) for v in williams_test(0.5, 0.4, 0.3, 3))
    assert all(math.isnan(v) for v in williams_test(0.5, 0.5, 1.0, 50))


def test_non_convergence_is_reported_in_the_row(monkeypatch):
    import scipy.optimize

    def never_converges(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found: maxfev reached")

    monkeypatch.setattr(scipy.optimize, "curve_fit", never_converges)
    scores, mos = monotone_with_noise(40, 0.5, seed=13)
    fit = fit_logistic(scores, mos)
    assert not fit.converged and "did not converge" in fit.message
    row = agreement(scores, mos, resamples=50)
    assert row["plcc_fit"] is None and row["rmse_fit"] is None
    assert "no 4pl logistic fit" in row["notes"] and np.isfinite(row["srcc"])


def test_bootstrap_ci_is_the_percentile_of_the_resampled_correlations():
    """Recomputed here with scipy on every resample of the shared indices."""
    scores, mos = monotone_with_noise(25, 0.8, seed=21)
    indices = np.random.default_rng(5).integers(0, 25, size=(400, 25))
    row = agreement(scores, mos, indices=indices, confidence=0.9)
    for name, correlation in (
        ("srcc", stats.spearmanr),
        ("krcc", stats.kendalltau),
        ("plcc", stats.pearsonr),
    ):
        resampled = [correlation(scores[rows], mos[rows]).statistic for rows in indices]
        low, high = np.percentile(resampled, [5.0, 95.0])
        assert row[f"{name}_low"] == pytest.approx(low, abs=1e-12)
        assert row[f"{name}_high"] == pytest.approx(high, abs=1e-12)


def test_paired_bootstrap_p_value_holds_its_size_under_the_null():
    """Two equally good metrics (same noise on the same MOS): the test rejects at about
    its nominal rate. 300 seeded trials; binomial 99% bounds around the nominal rates."""
    rng = np.random.default_rng(31)
    p_values = []
    for trial in range(300):
        mos = rng.normal(size=40)
        a, b = mos + rng.normal(size=40), -(mos + rng.normal(size=40))  # b a distance
        p_values.append(compare_agreement(a, b, mos, bootstrap_indices(40, 300, trial))["p_value"])
    p_values = np.array(p_values)
    assert 0.01 <= np.mean(p_values < 0.05) <= 0.09
    assert 0.13 <= np.mean(p_values < 0.20) <= 0.27


@pytest.mark.parametrize("logistic", ["4pl", "5pl"])
@pytest.mark.parametrize("k", [0.01, 7.0, 1000.0])
def test_rmse_fit_is_in_mos_units(logistic, k):
    """MOS × k → RMSE × k (the fit maps scores onto the MOS's own scale). The data follow a
    logistic with both asymptotes in range, so the fit is unique (an exponential-looking
    relation leaves a flat valley in which any optimiser stops at a slightly different
    point)."""
    rng = np.random.default_rng(41)
    scores = rng.uniform(10.0, 40.0, size=80)
    mos = logistic4(scores, 0.9, 0.1, 25.0, 3.0) + 0.05 * rng.normal(size=80)
    base = agreement(scores, mos, resamples=10, logistic=logistic)
    scaled = agreement(scores, mos * k, resamples=10, logistic=logistic)
    assert scaled["rmse_fit"] == pytest.approx(k * base["rmse_fit"], rel=1e-6)
    assert scaled["plcc_fit"] == pytest.approx(base["plcc_fit"], rel=1e-6)


def test_williams_test_matches_the_published_worked_example():
    """Silver, Hittner & May (2006), "A FORTRAN 77 program for comparing dependent
    correlations", Applied Psychological Measurement 30:152-153: r_jk = .3, r_jh = .4,
    r_kh = .5, n = 100 gives Williams' t = -1.0767, p = .2843 (two-sided, df = 97). The
    same example is the williams1959 case of the cocor R package's test suite
    (github.com/cran/cocor, tests/testthat/tests.r)."""
    t, p = williams_test(0.3, 0.4, 0.5, 100)
    assert round(t, 4) == -1.0767
    assert round(p, 4) == 0.2843
