"""What a rater sees next: the study's pairs and trap pairs, in a per-rater random order.

Trap pairs are made from the manifest itself, one of each kind per distinct GT image:

* ``trap-same:<id>`` shows the GT next to itself (known answer: no semantic change);
* ``trap-swap:<id>`` shows the GT next to another item's GT (known answer: a change).

Each rater's order of pairs and of traps is a shuffle seeded by ``(seed, rater)``; whether
the next slot holds a trap is drawn (probability ``trap_rate``) from ``(seed, rater, number
of answers given)``, so a reload or a server restart shows the same next item. A pair is
offered until ``raters_per_pair`` raters answered it (raters rating at the same moment may
overshoot by one or two).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from semfid_bench.datasets.manifest import Manifest
from semfid_bench.plugin_api.errors import SemfidError

TRAP_KINDS = ("trap-same", "trap-swap")


@dataclass(frozen=True)
class StudyItem:
    """One thing to rate: a manifest pair or a trap. ``key`` is the opaque name used in
    URLs and forms (so a page does not tell a trap by its id); ``expected`` is a trap's
    known answer (True: there is a semantic change), None for a real pair."""

    pair_id: str
    key: str
    gt: Path
    sr: Path
    expected: bool | None = None

    @property
    def is_trap(self) -> bool:
        return self.expected is not None


def _key(seed: int, pair_id: str) -> str:
    return hashlib.sha256(f"{seed}\0{pair_id}".encode()).hexdigest()[:20]


def build_items(manifest: Manifest, seed: int) -> tuple[list[StudyItem], list[StudyItem]]:
    """The manifest's pairs and the trap pairs made from its GT images."""
    unpaired = [item.id for item in manifest if not item.paired]
    if unpaired:
        raise SemfidError(
            f"Manifest {manifest.path} has {len(unpaired)} item(s) without an 'sr' image "
            f"(e.g. {unpaired[0]!r}); a study shows GT/SR pairs.",
            hint="Make the pairs manifest with 'semfid-bench dataset select'.",
        )
    if not manifest.items:
        raise SemfidError(f"Manifest {manifest.path} holds no pairs.")
    pairs = [StudyItem(i.id, _key(seed, i.id), i.gt, i.sr) for i in manifest]
    first_of_gt: dict[Path, str] = {}
    for item in manifest:
        first_of_gt.setdefault(item.gt, item.id)
    ring = list(first_of_gt)
    random.Random(seed).shuffle(ring)
    partner = {gt: ring[(n + 1) % len(ring)] for n, gt in enumerate(ring)}  # another GT
    traps = []
    for gt, name in first_of_gt.items():
        same, swap = f"trap-same:{name}", f"trap-swap:{name}"
        traps.append(StudyItem(same, _key(seed, same), gt, gt, expected=False))
        if len(ring) > 1:
            traps.append(StudyItem(swap, _key(seed, swap), gt, partner[gt], expected=True))
    clashes = {t.pair_id for t in traps} & {p.pair_id for p in pairs}
    if clashes:
        raise SemfidError(
            f"Manifest {manifest.path} has pair ids that look like trap ids: {sorted(clashes)[:5]}",
            hint="Rename the pairs: ids starting with 'trap-same:' or 'trap-swap:' are reserved.",
        )
    return pairs, traps


class Schedule:
    """Chooses each rater's next item among ``pairs`` and ``traps``."""

    def __init__(
        self,
        pairs: list[StudyItem],
        traps: list[StudyItem],
        raters_per_pair: int,
        trap_rate: float,
        seed: int,
    ) -> None:
        if raters_per_pair < 1:
            raise SemfidError(f"raters per pair must be at least 1, got {raters_per_pair}")
        if not 0 <= trap_rate < 1:
            raise SemfidError(f"trap rate must be in [0, 1), got {trap_rate}")
        self.pairs, self.traps = pairs, traps
        self.raters_per_pair, self.trap_rate, self.seed = raters_per_pair, trap_rate, seed
        self.by_key = {item.key: item for item in [*pairs, *traps]}
        self.by_id = {item.pair_id: item for item in [*pairs, *traps]}

    @lru_cache(maxsize=4096)  # noqa: B019 (one schedule per server, lives as long)
    def _orders(self, rater: str) -> tuple[tuple[StudyItem, ...], tuple[StudyItem, ...]]:
        rng = random.Random(f"{self.seed}\0{rater}")
        pairs, traps = list(self.pairs), list(self.traps)
        rng.shuffle(pairs)
        rng.shuffle(traps)
        return tuple(pairs), tuple(traps)

    def next_item(
        self, rater: str, answered: set[str], raters_of: dict[str, int]
    ) -> StudyItem | None:
        """The rater's next item, or None when no pair needs them any more.

        ``answered``: the ids the rater answered; ``raters_of``: per pair id, how many
        distinct raters answered it."""
        pairs, traps = self._orders(rater)
        pair = next(
            (
                p
                for p in pairs
                if p.pair_id not in answered and raters_of.get(p.pair_id, 0) < self.raters_per_pair
            ),
            None,
        )
        if pair is None:
            return None
        slot = random.Random(f"{self.seed}\0{rater}\0{len(answered)}")
        if slot.random() < self.trap_rate:
            trap = next((t for t in traps if t.pair_id not in answered), None)
            if trap is not None:
                return trap
        return pair
