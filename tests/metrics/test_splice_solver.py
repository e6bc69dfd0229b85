"""The SpLiCE solver recovers planted sparse codes, and its sparsity follows the penalty."""

import torch

from semfid_bench.metrics.splice_solver import NonNegativeLasso


def _planted(seed: int = 0, concepts: int = 300, dim: int = 128, active: int = 6):
    generator = torch.Generator().manual_seed(seed)
    dictionary = torch.nn.functional.normalize(
        torch.randn(concepts, dim, generator=generator), dim=1
    )
    codes = torch.zeros(2, concepts, dtype=torch.float64)
    for row in range(2):
        support = torch.randperm(concepts, generator=generator)[:active]
        codes[row, support] = 0.3 + 0.7 * torch.rand(
            active, generator=generator, dtype=torch.float64
        )
    return dictionary.double(), codes, codes @ dictionary.double()


def test_recovers_planted_support_and_weights():
    dictionary, codes, targets = _planted()
    solved = NonNegativeLasso(dictionary).solve(targets, l1_penalty=1e-3)
    assert (solved >= 0).all()
    for row in range(codes.shape[0]):
        planted = set(codes[row].nonzero().flatten().tolist())
        found = set((solved[row] > 0.05).nonzero().flatten().tolist())
        assert found == planted
    torch.testing.assert_close(solved, codes, atol=0.02, rtol=0)


def test_larger_penalty_gives_sparser_codes():
    dictionary, _, _ = _planted(seed=1, active=30)
    generator = torch.Generator().manual_seed(2)
    targets = torch.rand(4, dictionary.shape[1], dtype=torch.float64, generator=generator)
    targets = torch.nn.functional.normalize(targets, dim=1)
    solver = NonNegativeLasso(dictionary)
    counts = [int((solver.solve(targets, l1) > 1e-8).sum()) for l1 in (0.1, 0.2, 0.3)]
    assert counts[0] > counts[1] > counts[2] > 0
    assert int((solver.solve(targets, 50.0) > 0).sum()) == 0
