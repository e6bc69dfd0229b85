"""Speed of the agreement statistics against scipy.stats.bootstrap doing the same work
(SRCC, KRCC and PLCC with percentile CIs on the same number of paired resamples)."""

import time

import numpy as np
import pytest
from scipy import stats

from semfid_bench.report.stats import agreement

RESAMPLES = 300


def scipy_reference(x: np.ndarray, y: np.ndarray) -> None:
    for statistic in (stats.spearmanr, stats.kendalltau, stats.pearsonr):
        stats.bootstrap(
            (x, y),
            lambda a, b, f=statistic: f(a, b).statistic,
            paired=True,
            vectorized=False,
            n_resamples=RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(0),
        )


@pytest.mark.slow
@pytest.mark.parametrize("n", [60, 300])
def test_agreement_speed_against_scipy_bootstrap(benchmark, n):
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    started = time.perf_counter()
    scipy_reference(x, y)
    reference = time.perf_counter() - started
    started = time.perf_counter()
    agreement(x, y, resamples=RESAMPLES)
    ours = time.perf_counter() - started
    row = benchmark(agreement, x, y, resamples=RESAMPLES)
    benchmark.extra_info["scipy_bootstrap_seconds"] = reference
    benchmark.extra_info["speedup_vs_scipy_bootstrap"] = reference / ours
    assert row["n"] == n
