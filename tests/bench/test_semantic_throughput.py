"""Throughput of the semantic metrics' heavy parts at their real sizes (random weights: speed
does not depend on them). pyiqa has no implementation of these metrics; the SpLiCE solver
is measured next to SpLiCE's own formulation of the same ADMM (a Cholesky factor of the
concepts × concepts matrix), run in the same test.

Smoke mode (``--benchmark-disable``) uses small sizes; measure with
``pytest tests/bench --benchmark-enable -m ''``.
"""

import time

import pytest
import torch
import torch.nn.functional as F

from semfid_bench.metrics.clip_model import ClipModel
from semfid_bench.metrics.splice_solver import NonNegativeLasso


def _splice_reference_admm(dictionary, targets, l1, rho=5.0, tol=1e-6, max_iter=2000):
    """SpLiCE's ADMM (splice/admm.py) with zero initial iterates, for comparison only."""
    c = dictionary.shape[0]
    factor = torch.linalg.cholesky(2 * dictionary @ dictionary.T + rho * torch.eye(c))
    rhs = 2 * dictionary @ targets.T
    z = torch.zeros_like(rhs)
    u = torch.zeros_like(rhs)
    for _ in range(max_iter):
        x = torch.cholesky_solve(rhs + rho * (z - u), factor)
        z_old = z
        z = (x + u - l1 / rho).clamp_min(0)
        u = u + x - z
        primal = torch.linalg.vector_norm(x - z, dim=0).max()
        dual = torch.linalg.vector_norm(rho * (z - z_old), dim=0).max()
        if primal < tol and dual < tol:
            break
    return z.T


def test_splice_solver_vs_splice_formulation(benchmark):
    concepts, dim, batch = (10000, 512, 8) if not benchmark.disabled else (400, 64, 4)
    generator = torch.Generator().manual_seed(0)
    dictionary = F.normalize(torch.randn(concepts, dim, generator=generator), dim=1)
    dictionary = F.normalize(dictionary - dictionary.mean(0), dim=1)
    targets = F.normalize(torch.randn(batch, dim, generator=generator), dim=1)
    start = time.perf_counter()
    reference = _splice_reference_admm(dictionary, targets, 0.25)
    reference_seconds = time.perf_counter() - start
    start = time.perf_counter()
    ours = NonNegativeLasso(dictionary).solve(targets, 0.25)  # includes the factorisation
    ours_seconds = time.perf_counter() - start
    torch.testing.assert_close(ours.float(), reference, atol=1e-3, rtol=0)
    benchmark.extra_info.update(
        {
            "concepts": concepts,
            "ours_images_per_s": round(batch / ours_seconds, 2),
            "splice_formulation_images_per_s": round(batch / reference_seconds, 2),
            "ratio": round(reference_seconds / ours_seconds, 2),
        }
    )
    solver = NonNegativeLasso(dictionary)
    benchmark(solver.solve, targets, 0.25)


@pytest.mark.slow
def test_clip_image_embedding_throughput(benchmark):
    """CLIP ViT-B-32 image embeddings (preprocessing included) of 512×512 images."""
    if benchmark.disabled:
        pytest.skip("measured only with --benchmark-enable (builds ViT-B-32)")
    clip = ClipModel("ViT-B-32", "none", batch_size=16)
    images = torch.rand(16, 3, 512, 512, generator=torch.Generator().manual_seed(0))
    clip.encode_images(images[:2])  # load the model first
    start = time.perf_counter()
    clip.encode_images(images)
    benchmark.extra_info["images_per_s"] = round(16 / (time.perf_counter() - start), 2)
    benchmark.pedantic(clip.encode_images, args=(images,), rounds=2)
