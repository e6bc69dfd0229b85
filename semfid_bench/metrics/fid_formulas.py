"""FID and KID from Inception features, and their set-level reducers (numpy/scipy only:
reports call these without loading any model).

FID (Heusel et al. 2017) is pytorch-fid's ``calculate_frechet_distance``:
``|mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½)``, with ``np.cov`` covariances in float64.
The trace of the matrix square root is computed exactly as the nuclear norm of ``F1ᵀF2``
with ``Fi Fiᵀ = Si`` (the eigenvalues of ``S1 S2`` are the squared singular values of
``F1ᵀF2``): ``Fi`` is the centred feature matrix when a set has fewer items than feature
dimensions (the usual SR test set: 100 images, 2048 dimensions), else ``Si``'s symmetric
square root. This avoids ``scipy.linalg.sqrtm`` of a singular 2048×2048 product, which takes
minutes on a CPU and is least accurate exactly there.

KID (Bińkowski et al. 2018) is clean-fid's ``kernel_distance``: the unbiased MMD² with the
polynomial kernel ``(xᵀy / d + 1)³``, averaged over ``num_subsets`` random subsets of
``min(n1, n2, max_subset_size)`` items, drawn in clean-fid's order (second set, then first)
from ``numpy.random.RandomState(subset_seed)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _factor(features: np.ndarray) -> np.ndarray:
    """A matrix F with F Fᵀ = the features' covariance (``np.cov``, ddof 1)."""
    n, d = features.shape
    centred = (features - features.mean(axis=0)) / np.sqrt(n - 1)
    if n <= d:
        return centred.T
    values, vectors = np.linalg.eigh(centred.T @ centred)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two feature sets (rows = items), each of at least two items."""
    features1, features2 = (np.asarray(f, dtype=np.float64) for f in (features1, features2))
    _check(features1, features2, minimum=2, what="FID")
    f1, f2 = _factor(features1), _factor(features2)
    diff = features1.mean(axis=0) - features2.mean(axis=0)
    trace_sqrt = np.linalg.svd(f1.T @ f2, compute_uv=False).sum()
    return float(diff @ diff + (f1 * f1).sum() + (f2 * f2).sum() - 2.0 * trace_sqrt)


def kernel_distance(
    features1: np.ndarray,
    features2: np.ndarray,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    subset_seed: int = 0,
) -> float:
    """KID: the unbiased polynomial-kernel MMD², averaged over random subsets."""
    features1, features2 = (np.asarray(f, dtype=np.float64) for f in (features1, features2))
    _check(features1, features2, minimum=2, what="KID")
    if num_subsets < 1 or max_subset_size < 2:
        raise ValueError("KID needs num_subsets >= 1 and max_subset_size >= 2")
    d = features1.shape[1]
    m = min(features1.shape[0], features2.shape[0], max_subset_size)
    draw = np.random.RandomState(subset_seed)
    total = 0.0
    for _ in range(num_subsets):
        x = features2[draw.choice(features2.shape[0], m, replace=False)]
        y = features1[draw.choice(features1.shape[0], m, replace=False)]
        within = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        across = (x @ y.T / d + 1) ** 3
        total += (within.sum() - np.diag(within).sum()) / (m - 1) - across.sum() * 2 / m
    return float(total / num_subsets / m)


def _check(features1: np.ndarray, features2: np.ndarray, *, minimum: int, what: str) -> None:
    if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
        raise ValueError(
            f"{what} needs two (items, dims) feature sets of one width, got "
            f"{features1.shape} and {features2.shape}"
        )
    if min(len(features1), len(features2)) < minimum:
        raise ValueError(f"{what} needs at least {minimum} items per set, got {len(features1)}")
    if not (np.isfinite(features1).all() and np.isfinite(features2).all()):
        raise ValueError(f"{what}: features hold non-finite values")


def _sets(stats: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The SR and GT feature sets of a slice's item statistics."""
    return np.stack([s["sr"] for s in stats]), np.stack([s["gt"] for s in stats])


def fid_reduce(stats: Sequence[dict[str, Any]], item_ids: Sequence[str], options: dict) -> float:
    """Set-level reducer of ``fid``: FID of the SR set against the GT set."""
    return frechet_distance(*_sets(stats))


def kid_reduce(stats: Sequence[dict[str, Any]], item_ids: Sequence[str], options: dict) -> float:
    """Set-level reducer of ``kid``: KID of the SR set against the GT set, with the
    metric's subset options (its effective options: defaults included)."""
    return kernel_distance(
        *_sets(stats),
        num_subsets=int(options["num_subsets"]),
        max_subset_size=int(options["max_subset_size"]),
        subset_seed=int(options["subset_seed"]),
    )
