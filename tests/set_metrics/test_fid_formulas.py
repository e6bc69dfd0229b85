"""FID and KID equal the reference packages' formulas on the same features."""

from __future__ import annotations

import numpy as np
import pytest

from semfid_bench.metrics.fid_formulas import (
    fid_reduce,
    frechet_distance,
    kernel_distance,
    kid_reduce,
)

fid_score = pytest.importorskip("pytorch_fid.fid_score")
cleanfid = pytest.importorskip("cleanfid.fid")


def _sets(n1: int, n2: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sr = rng.standard_normal((n1, d)) * 0.5 + 0.1
    gt = rng.standard_normal((n2, d)) * 0.7 + rng.standard_normal(d) * 0.2
    return sr.astype(np.float32), gt.astype(np.float32)


def _pytorch_fid(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return fid_score.calculate_frechet_distance(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )


def test_fid_equals_pytorch_fid_with_more_items_than_dimensions():
    sr, gt = _sets(300, 250, 32)
    assert frechet_distance(sr, gt) == pytest.approx(_pytorch_fid(sr, gt), abs=1e-6)


def test_fid_equals_pytorch_fid_with_fewer_items_than_dimensions():
    """The SR-benchmark case (100 images, 2048 dims): pytorch-fid's sqrtm of a singular
    product carries ~1e-8 relative error, which the exact low-rank trace does not."""
    sr, gt = _sets(20, 25, 256)
    assert frechet_distance(sr, gt) == pytest.approx(_pytorch_fid(sr, gt), rel=1e-6)


def test_low_rank_fid_is_exact_in_high_precision():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    sr, gt = (s.astype(np.float64) for s in _sets(4, 5, 12, seed=1))

    def mean_cov(x):
        n, d = x.shape
        mean = [mpmath.fsum(mpmath.mpf(x[i, j]) for i in range(n)) / n for j in range(d)]
        cov = mpmath.matrix(d, d)
        for a in range(d):
            for b in range(d):
                terms = ((mpmath.mpf(x[i, a]) - mean[a]) * (x[i, b] - mean[b]) for i in range(n))
                cov[a, b] = mpmath.fsum(terms) / (n - 1)
        return mean, cov

    (m1, s1), (m2, s2) = mean_cov(sr), mean_cov(gt)
    eigenvalues = mpmath.eig(s1 * s2)[0]
    trace_sqrt = mpmath.fsum(mpmath.sqrt(abs(mpmath.re(e))) for e in eigenvalues)
    exact = (
        mpmath.fsum((a - b) ** 2 for a, b in zip(m1, m2, strict=True))
        + mpmath.fsum(s1[i, i] + s2[i, i] for i in range(12))
        - 2 * trace_sqrt
    )
    assert frechet_distance(sr, gt) == pytest.approx(float(exact), abs=1e-10)


def test_fid_of_a_set_with_itself_is_zero():
    sr, _ = _sets(10, 10, 64)
    assert frechet_distance(sr, sr) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("subsets", "size"), [(7, 10), (3, 1000)])
def test_kid_equals_clean_fid(subsets, size):
    sr, gt = _sets(40, 30, 64)
    np.random.seed(5)
    expected = cleanfid.kernel_distance(sr, gt, num_subsets=subsets, max_subset_size=size)
    mine = kernel_distance(sr, gt, num_subsets=subsets, max_subset_size=size, subset_seed=5)
    assert mine == pytest.approx(expected, abs=1e-6)


def test_reducers_stack_sr_and_gt_in_item_order():
    sr, gt = _sets(6, 6, 16)
    stats = [{"sr": s, "gt": g} for s, g in zip(sr, gt, strict=True)]
    ids = [f"item{i}" for i in range(6)]
    assert fid_reduce(stats, ids, {}) == pytest.approx(frechet_distance(sr, gt))
    options = {"num_subsets": 4, "max_subset_size": 5, "subset_seed": 1}
    assert kid_reduce(stats, ids, options) == pytest.approx(kernel_distance(sr, gt, 4, 5, 1))


@pytest.mark.parametrize("reducer", [frechet_distance, kernel_distance])
def test_one_item_or_mismatched_sets_are_refused(reducer):
    sr, gt = _sets(1, 1, 8)
    with pytest.raises(ValueError, match="at least 2 items"):
        reducer(sr, gt)
    with pytest.raises(ValueError, match="one width"):
        reducer(*_sets(3, 3, 8)[:1], _sets(3, 3, 9)[1])
