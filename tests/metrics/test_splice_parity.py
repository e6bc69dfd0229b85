"""SpLiCE decomposition against the authors' code, with the real non-zero image mean.

tests/fixtures/parity/splice_decomposition.json holds ``SPLICE.encode_image`` weights and
``recompose_image`` reconstructions (ADMM and sklearn solvers) from AI4LIFE-GROUP/SpLiCE
(scripts/parity/splice_decomposition.py regenerates it); the image mean is SpLiCE's own
file for open_clip ViT-B-32 laion2b_s34b_b79k.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from semfid_bench.metrics.splice import SpliceSimilarity, concept_dictionary
from semfid_bench.metrics.splice_solver import NonNegativeLasso

from .splice_parity import CONCEPTS, L1, seeded_inputs

FOLDER = Path(__file__).parents[1] / "fixtures" / "parity"
FIXTURE = json.loads((FOLDER / "splice_decomposition.json").read_text())


@pytest.fixture(scope="module")
def metric_and_inputs():
    metric = SpliceSimilarity(
        image_mean=str(FOLDER / "splice_open_clip_ViT-B-32_image.pt"), l1_penalty=L1
    )
    mean = metric._image_mean()  # the loading path a run takes, from the authors' file
    concepts, images = seeded_inputs(mean)
    torch.testing.assert_close(
        torch.tensor([float(concepts.sum()), float(images.sum())]),
        torch.tensor(FIXTURE["input_checksum"]),
    )
    dictionary = concept_dictionary(concepts)
    metric._state = {
        "words": [str(i) for i in range(CONCEPTS)],
        "dictionary": dictionary,
        "solver": NonNegativeLasso(dictionary),
        "mean": mean,
    }
    return metric, images


def test_fixture_names_its_source_and_the_mean_is_not_zero(metric_and_inputs):
    metric, _ = metric_and_inputs
    assert FIXTURE["source"]["repository"] == "AI4LIFE-GROUP/SpLiCE"
    assert len(FIXTURE["source"]["commit"]) == 40
    assert metric._load()["mean"].norm() > 0.1


@pytest.mark.parametrize("solver", ["admm", "skl"])
def test_decomposition_matches_splice(metric_and_inputs, solver):
    metric, images = metric_and_inputs
    weights = metric.decompose(images)
    expected = torch.zeros_like(weights)
    for row, entries in enumerate(FIXTURE[solver]["weights"]):
        for index, value in entries:
            expected[row, index] = value
    assert torch.equal(weights > 0, expected > 0)  # the same concepts
    torch.testing.assert_close(weights, expected, atol=2e-4, rtol=0)
    recon = metric._recompose(weights, metric._load()["dictionary"])
    reference = torch.tensor(FIXTURE[solver]["reconstruction"])
    torch.testing.assert_close(recon, reference, atol=1e-4, rtol=0)
