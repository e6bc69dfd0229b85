"""Seeded random panoptic maps for the COCO panoptic API parity test and its fixture
script (scripts/parity/panopticapi_reference.py)."""

from __future__ import annotations

import numpy as np

from semfid_bench.metrics.panoptic_quality import Panoptic, Segment

PERSON, CAR, SKY = 1, 2, 3  # two thing categories and one stuff category
THINGS = (PERSON, CAR)


def random_panoptic(rng: np.random.Generator, height: int, width: int) -> Panoptic:
    """Blocky random segments of three categories, some crowd, some VOID."""
    coarse = rng.integers(0, 6, size=(height // 4, width // 4))
    ids = np.kron(coarse, np.ones((4, 4), dtype=np.int64))
    ids[rng.random(ids.shape) < 0.05] = 0  # speckles of VOID and of other segments
    noise = rng.random(ids.shape) < 0.05
    ids[noise] = rng.integers(1, 6, size=int(noise.sum()))
    segments = {
        sid: Segment(int(rng.integers(1, 4)), iscrowd=bool(rng.random() < 0.15))
        for sid in range(1, 6)
    }
    return Panoptic(ids, segments)


def parity_cases(count: int = 20) -> list[tuple[Panoptic, Panoptic]]:
    """(GT, prediction) pairs: the prediction is the GT with 10-70 % of its pixels (in
    blocks and speckles) from another map, so IoUs spread around the 0.5 match threshold
    and some predicted segments lie mostly in VOID; categories kept for most segments, no
    crowd."""
    rng = np.random.default_rng(1)
    cases = []
    for _ in range(count):
        gt, other = random_panoptic(rng, 32, 48), random_panoptic(rng, 32, 48)
        share = rng.uniform(0.1, 0.7)
        blocks = np.kron(rng.random((8, 12)) < share, np.ones((4, 4), dtype=bool))
        ids = np.where(blocks | (rng.random(gt.ids.shape) < share / 4), other.ids, gt.ids)
        segments = {
            k: Segment(v.category if rng.random() < 0.8 else int(rng.integers(1, 4)))
            for k, v in gt.segments.items()
        }
        cases.append((gt, Panoptic(ids, segments)))
    return cases
