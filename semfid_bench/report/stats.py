"""Summary statistics shared by leaderboards and reports: means with CIs, and agreement of
metric scores with human MOS (correlations, logistic mapping, bootstrap CIs, paired tests)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and its two-sided confidence interval from Student's t distribution.

    Returns (mean, low, high); with fewer than two values the interval is (nan, nan).
    """
    from scipy import stats

    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if data.size < 2:
        return mean, math.nan, math.nan
    sem = float(data.std(ddof=1)) / math.sqrt(data.size)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, data.size - 1)) * sem
    return mean, mean - half, mean + half


# --- Agreement of a metric with human MOS -------------------------------------------------

MIN_ITEMS = 3
CORRELATIONS = ("srcc", "krcc", "plcc")
VECTORISED_KENDALL_MAX_N = 200


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """VQEG 4-parameter logistic: ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``."""
    with np.errstate(over="ignore"):
        return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


def logistic5(x: np.ndarray, b1: float, b2: float, b3: float, b4: float, b5: float) -> np.ndarray:
    """5-parameter logistic (Sheikh et al. 2006): ``b1 (1/2 - 1/(1 + exp(b2 (x - b3)))) +
    b4 x + b5``."""
    with np.errstate(over="ignore"):
        return b1 * (0.5 - 1.0 / (1.0 + np.exp(b2 * (x - b3)))) + b4 * x + b5


LOGISTICS = {"4pl": logistic4, "5pl": logistic5}


@dataclass(frozen=True)
class LogisticFit:
    """A monotone logistic mapping from metric scores to MOS, in the scores' own units.

    ``params`` is empty and ``message`` says why when the fit did not converge; a converged
    fit may carry a warning in ``message``."""

    kind: str
    params: tuple[float, ...]
    message: str = ""

    @property
    def converged(self) -> bool:
        return bool(self.params)

    def predict(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        if not self.converged:
            raise ValueError(f"the {self.kind} logistic fit did not converge: {self.message}")
        return LOGISTICS[self.kind](np.asarray(x, dtype=float), *self.params)


def fit_logistic(scores: Sequence[float], mos: Sequence[float], kind: str = "4pl") -> LogisticFit:
    """Least-squares logistic mapping from ``scores`` to ``mos`` (``scipy.optimize.curve_fit``).

    Scores are standardised for the fit and the parameters mapped back, so the optimiser sees
    the same problem whatever the metric's units. Non-convergence is returned, not raised."""
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    if kind not in LOGISTICS:
        raise ValueError(f"unknown logistic {kind!r}; choose from {sorted(LOGISTICS)}")
    x, y = np.asarray(scores, dtype=float), np.asarray(mos, dtype=float)
    needed = 4 if kind == "4pl" else 5
    if x.size < needed + 1:
        return LogisticFit(kind, (), f"{x.size} items cannot fit {needed} parameters")
    centre, spread = float(x.mean()), float(x.std())
    if spread == 0.0:
        return LogisticFit(kind, (), "the scores are constant")
    z = (x - centre) / spread
    rising = np.corrcoef(z, y)[0, 1] >= 0
    low, high = float(y.min()), float(y.max())
    if kind == "4pl":
        start = [high, low, 0.0, 1.0] if rising else [low, high, 0.0, 1.0]
    else:
        start = [high - low, 1.0 if rising else -1.0, 0.0, 0.0, float(y.mean())]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            params, _ = curve_fit(LOGISTICS[kind], z, y, p0=start, maxfev=20000)
        except (RuntimeError, ValueError) as exc:
            return LogisticFit(kind, (), f"curve_fit did not converge: {exc}")
    ill_conditioned = any(issubclass(w.category, OptimizeWarning) for w in caught)
    message = "parameter covariance could not be estimated (ill-conditioned fit)"
    if not np.all(np.isfinite(params)):
        return LogisticFit(kind, (), "curve_fit returned non-finite parameters")
    if kind == "4pl":
        b1, b2, b3, b4 = params
        mapped = (b1, b2, centre + spread * b3, spread * abs(b4))
    else:
        b1, b2, b3, b4, b5 = params
        mapped = (b1, b2 / spread, centre + spread * b3, b4 / spread, b5 - b4 * centre / spread)
    return LogisticFit(kind, tuple(float(p) for p in mapped), message if ill_conditioned else "")


def normalise_scores(
    scores: np.ndarray, value_range: tuple[float, float]
) -> tuple[np.ndarray, str]:
    """Scores mapped to [0, 1]: by the metric's declared range where both ends are finite,
    else by min-max over these scores. Returns the values and how they were normalised."""
    low, high = value_range
    if math.isfinite(low) and math.isfinite(high) and high > low:
        how = f"declared range [{low:g}, {high:g}]"
    else:
        low, high = float(np.min(scores)), float(np.max(scores))
        how = f"min-max over the data [{low:.4g}, {high:.4g}]"
    if high == low:
        return np.full_like(scores, 0.5), how
    return np.clip((scores - low) / (high - low), 0.0, 1.0), how


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``; NaN if constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(axis=1) / denominator, np.nan)


def resampled_correlations(
    scores: np.ndarray, mos: np.ndarray, indices: np.ndarray
) -> dict[str, np.ndarray]:
    """SRCC, KRCC and PLCC on each bootstrap resample (one row of ``indices`` each)."""
    from scipy import stats

    x, y = scores[indices], mos[indices]
    rank_x = stats.rankdata(x, axis=1)
    rank_y = stats.rankdata(y, axis=1)
    if x.shape[1] > VECTORISED_KENDALL_MAX_N:  # O(n log n) per resample beats O(n²) here
        with np.errstate(invalid="ignore"):
            kendall = np.array(
                [stats.kendalltau(a, b).statistic for a, b in zip(x, y, strict=True)]
            )
    return {
        "srcc": _pearson_rows(rank_x, rank_y),
        "krcc": _kendall_rows(x, y) if x.shape[1] <= VECTORISED_KENDALL_MAX_N else kendall,
        "plcc": _pearson_rows(x, y),
    }


def _kendall_rows(x: np.ndarray, y: np.ndarray, pairs_per_chunk: int = 4_000_000) -> np.ndarray:
    """Kendall's tau-b of each row pair, as scipy computes it: Σ sx·sy / √(Σ|sx| Σ|sy|)
    over item pairs, with sx, sy the signs of the pairwise differences (NaN if constant)."""
    rows, n = x.shape
    upper = np.triu_indices(n, k=1)
    chunk = max(1, pairs_per_chunk // max(1, upper[0].size))
    tau = np.empty(rows)
    for start in range(0, rows, chunk):
        xs, ys = x[start : start + chunk], y[start : start + chunk]
        sx = np.sign(xs[:, upper[0]] - xs[:, upper[1]])
        sy = np.sign(ys[:, upper[0]] - ys[:, upper[1]])
        denominator = np.sqrt(np.abs(sx).sum(axis=1) * np.abs(sy).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            tau[start : start + chunk] = np.where(
                denominator > 0, (sx * sy).sum(axis=1) / denominator, np.nan
            )
    return tau


def bootstrap_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) item indices drawn with replacement from a seeded generator; sharing
    them across metrics makes their bootstrap distributions paired."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def check_pairs(scores: Sequence[float], mos: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Scores and MOS as float arrays; raise ValueError saying what makes them unusable."""
    x, y = np.asarray(scores, dtype=float), np.asarray(mos, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"scores and MOS must be 1-D of equal length, got {x.shape}, {y.shape}")
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} of {x.size} score/MOS pairs are NaN or infinite")
    if x.size < MIN_ITEMS:
        raise ValueError(f"{x.size} item(s); a correlation needs at least {MIN_ITEMS}")
    if np.ptp(x) == 0:
        raise ValueError(f"the metric is constant ({x[0]:.6g}) over all {x.size} items")
    if np.ptp(y) == 0:
        raise ValueError(f"the MOS is constant ({y[0]:.6g}) over all {y.size} items")
    return x, y


def agreement(
    scores: Sequence[float],
    mos: Sequence[float],
    *,
    value_range: tuple[float, float] = (-math.inf, math.inf),
    indices: np.ndarray | None = None,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    logistic: str = "4pl",
) -> dict[str, object]:
    """How well ``scores`` agree with ``mos``: signed SRCC/KRCC/PLCC with percentile bootstrap
    CIs, PLCC and RMSE after a logistic mapping, and MSE of the [0, 1]-normalised score.

    Raises ValueError (see :func:`check_pairs`) for input no correlation can be computed on.
    ``indices`` (from :func:`bootstrap_indices`) overrides ``resamples``/``seed``."""
    from scipy import stats

    x, y = check_pairs(scores, mos)
    notes: list[str] = []
    row: dict[str, object] = {
        "n": int(x.size),
        "srcc": float(stats.spearmanr(x, y).statistic),
        "krcc": float(stats.kendalltau(x, y).statistic),
        "plcc": float(stats.pearsonr(x, y).statistic),
    }
    if indices is None:
        indices = bootstrap_indices(x.size, resamples, seed)
    tail = (1.0 - confidence) / 2.0 * 100.0
    for name, values in resampled_correlations(x, y, indices).items():
        finite = values[np.isfinite(values)]
        if finite.size < 0.9 * values.size:
            notes.append(
                f"{name} CI from {finite.size} of {values.size} resamples (others constant)"
            )
        bounds = np.percentile(finite, [tail, 100.0 - tail]) if finite.size else [None, None]
        row[f"{name}_low"], row[f"{name}_high"] = (None if b is None else float(b) for b in bounds)
    fit = fit_logistic(x, y, logistic)
    row["fit"] = logistic
    row["fit_params"] = list(fit.params)
    if fit.converged:
        predicted = fit.predict(x)
        row["plcc_fit"] = (
            float(stats.pearsonr(predicted, y).statistic) if np.ptp(predicted) > 0 else None
        )
        row["rmse_fit"] = float(np.sqrt(np.mean((predicted - y) ** 2)))
        if fit.message:
            notes.append(f"{logistic} fit: {fit.message}")
    else:
        row["plcc_fit"] = row["rmse_fit"] = None
        notes.append(f"no {logistic} logistic fit: {fit.message}")
    normalised, how = normalise_scores(x, value_range)
    row["mse"] = float(np.mean((normalised - y) ** 2))
    row["normalisation"] = how
    row["notes"] = "; ".join(notes)
    return row


def compare_agreement(
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    mos: np.ndarray,
    indices: np.ndarray,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Paired bootstrap test of |SRCC(A, MOS)| - |SRCC(B, MOS)| on the same resamples.

    Each resample's SRCC is oriented by the sign of the full-sample SRCC, so a distance and a
    similarity are compared on magnitude. Returns the difference, its CI and a two-sided
    bootstrap p-value (twice the smaller tail mass beyond zero), plus Williams' t-test on
    the same oriented rank correlations (:func:`williams_test`)."""
    from scipy import stats

    ys = stats.rankdata(mos[indices], axis=1)
    sign_a = np.sign(stats.spearmanr(scores_a, mos).statistic) or 1.0
    sign_b = np.sign(stats.spearmanr(scores_b, mos).statistic) or 1.0
    a = sign_a * _pearson_rows(stats.rankdata(scores_a[indices], axis=1), ys)
    b = sign_b * _pearson_rows(stats.rankdata(scores_b[indices], axis=1), ys)
    diff = (a - b)[np.isfinite(a - b)]
    observed = abs(stats.spearmanr(scores_a, mos).statistic) - abs(
        stats.spearmanr(scores_b, mos).statistic
    )
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(diff, [tail, 100.0 - tail])
    p_value = min(1.0, 2.0 * min(np.mean(diff <= 0), np.mean(diff >= 0)))
    r_ab = stats.spearmanr(scores_a, scores_b).statistic
    t, williams_p = williams_test(
        sign_a * stats.spearmanr(scores_a, mos).statistic,
        sign_b * stats.spearmanr(scores_b, mos).statistic,
        sign_a * sign_b * r_ab,
        mos.size,
    )
    return {
        "delta": float(observed),
        "delta_low": float(low),
        "delta_high": float(high),
        "p_value": float(p_value),
        "williams_t": t,
        "williams_p": williams_p,
    }


def williams_test(r_am: float, r_bm: float, r_ab: float, n: int) -> tuple[float, float]:
    """Williams' t (Steiger 1980, eq. 7) for r(A, M) = r(B, M) when A and B are scored on the
    same n items; returns (t, two-sided p) with n - 3 degrees of freedom. NaN where
    undefined (n < 4, or A and B perfectly correlated)."""
    from scipy import stats

    det = 1.0 - r_am**2 - r_bm**2 - r_ab**2 + 2.0 * r_am * r_bm * r_ab
    mean = (r_am + r_bm) / 2.0
    denominator = 2.0 * (n - 1) / (n - 3) * det + mean**2 * (1.0 - r_ab) ** 3 if n > 3 else 0.0
    if n <= 3 or denominator <= 0.0:
        return math.nan, math.nan
    t = (r_am - r_bm) * math.sqrt((n - 1) * (1.0 + r_ab) / denominator)
    return float(t), float(2.0 * stats.t.sf(abs(t), n - 3))
