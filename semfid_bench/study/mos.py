"""From raters' answers to a rated manifest: trap filter, MOS with CIs, agreement.

* A rater's trap accuracy is the share of their trap answers equal to the known answer.
  Raters below ``min_trap_accuracy`` (default 0.9, as in the study) are dropped, and so are
  raters who answered no trap at all (their reliability is unknown) unless the threshold
  is 0.
* A pair's MOS is the share of "yes" (semantic change) answers of the kept raters, with a
  Wilson score interval (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``):
  unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or n "yes".
* Inter-rater agreement is Krippendorff's alpha (nominal, the ``krippendorff`` package)
  over the kept raters' answers to non-trap pairs; missing answers are allowed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from semfid_bench.datasets.manifest import Manifest, write_manifest
from semfid_bench.datasets.manifest_rows import header_records, item_row
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.study.answers import Answer

DEFAULT_MIN_TRAP_ACCURACY = 0.9
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairScore:
    """A pair's MOS (share of "yes") over ``ratings`` kept answers and its CI."""

    pair_id: str
    mos: float
    low: float
    high: float
    ratings: int


@dataclass
class StudyScores:
    """What ``score_study`` found: per-pair MOS, the raters kept and dropped, agreement."""

    pairs: dict[str, PairScore]
    trap_accuracy: dict[str, float | None]
    kept: list[str]
    dropped: list[str]
    alpha: float | None
    duplicates: int
    settings: dict = field(default_factory=dict)


def _last_answers(answers: list[Answer]) -> tuple[list[Answer], int]:
    """One answer per (rater, pair): the last one given; also how many were replaced."""
    last: dict[tuple[str, str], Answer] = {}
    for answer in answers:
        last[(answer.rater, answer.pair_id)] = answer
    return list(last.values()), len(answers) - len(last)


def trap_accuracies(answers: list[Answer]) -> dict[str, float | None]:
    """Each rater's share of correct trap answers (None: answered no trap)."""
    correct: dict[str, list[bool]] = {}
    for answer in answers:
        traps = correct.setdefault(answer.rater, [])
        if answer.is_trap:
            traps.append(answer.answer == answer.expected)
    return {r: (sum(c) / len(c) if c else None) for r, c in correct.items()}


def wilson_interval(yes: int, total: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion ``yes / total``."""
    from scipy.stats import binomtest

    ci = binomtest(yes, total).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def krippendorff_alpha(answers: list[Answer]) -> float | None:
    """Nominal Krippendorff's alpha of yes/no answers (raters × pairs, gaps allowed);
    None where it is undefined: fewer than two raters, no pair with two answers, or one
    answer given throughout."""
    import numpy as np

    try:
        import krippendorff
    except ImportError as exc:
        raise SemfidError(
            "Krippendorff's alpha needs the 'krippendorff' package.",
            hint="pip install 'semfid-bench[study]' (or pip install krippendorff)",
        ) from exc

    raters = sorted({a.rater for a in answers})
    pairs = sorted({a.pair_id for a in answers})
    if len(raters) < 2 or not pairs:
        return None
    data = np.full((len(raters), len(pairs)), np.nan)
    row, col = {r: i for i, r in enumerate(raters)}, {p: i for i, p in enumerate(pairs)}
    for a in answers:
        data[row[a.rater], col[a.pair_id]] = float(a.answer)
    if not ((~np.isnan(data)).sum(axis=0) >= 2).any():
        return None
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None  # everybody gave the same answer: alpha is 0/0, undefined
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _reliable(accuracy: float | None, threshold: float) -> bool:
    """Raters without trap answers pass only a threshold of 0."""
    return threshold == 0 if accuracy is None else accuracy >= threshold


def score_study(
    answers: list[Answer],
    min_trap_accuracy: float = DEFAULT_MIN_TRAP_ACCURACY,
    confidence: float = DEFAULT_CONFIDENCE,
) -> StudyScores:
    """Drop unreliable raters, then MOS and CI per non-trap pair and Krippendorff's alpha."""
    if not 0 <= min_trap_accuracy <= 1:
        raise SemfidError(f"min trap accuracy must be in [0, 1], got {min_trap_accuracy}")
    if not 0 < confidence < 1:
        raise SemfidError(f"confidence must be in (0, 1), got {confidence}")
    answers, duplicates = _last_answers(answers)
    accuracy = trap_accuracies(answers)
    kept = sorted(r for r, acc in accuracy.items() if _reliable(acc, min_trap_accuracy))
    dropped = sorted(set(accuracy) - set(kept))
    if not kept:
        raise SemfidError(
            f"No rater reaches trap accuracy {min_trap_accuracy:g}: all {len(dropped)} dropped.",
            hint="Check the is_trap/expected columns, or lower --min-trap-accuracy.",
        )
    keep = set(kept)
    rated = [a for a in answers if a.rater in keep and not a.is_trap]
    votes: dict[str, list[bool]] = defaultdict(list)
    for answer in rated:
        votes[answer.pair_id].append(answer.answer)
    pairs = {}
    for pair_id, values in sorted(votes.items()):
        low, high = wilson_interval(sum(values), len(values), confidence)
        pairs[pair_id] = PairScore(pair_id, sum(values) / len(values), low, high, len(values))
    return StudyScores(
        pairs=pairs,
        trap_accuracy=accuracy,
        kept=kept,
        dropped=dropped,
        alpha=krippendorff_alpha(rated),
        duplicates=duplicates,
        settings={"min_trap_accuracy": min_trap_accuracy, "confidence": confidence},
    )


def write_rated_manifest(
    pairs: Manifest, scores: StudyScores, out: Path, source: str
) -> tuple[int, list[str]]:
    """Write the pairs that got answers, with ``mos`` and CI labels, to ``out``.

    Return (items written, ids of manifest pairs nobody rated). Answers to a non-trap id
    the manifest lacks are an error: they would silently vanish otherwise."""
    if not scores.pairs:
        raise SemfidError("The kept raters answered no pair other than traps.")
    by_id = {item.id: item for item in pairs}
    unknown = sorted(set(scores.pairs) - set(by_id))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:10])
        raise SemfidError(
            f"{len(unknown)} rated pair id(s) are not in {pairs.path}: {shown}",
            hint="Mark trap pairs with is_trap, or rate pairs from this manifest.",
        )
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for pair_id, score in scores.pairs.items():
        item = by_id[pair_id]
        labels = dict(item.labels) | {
            "mos_low": score.low,
            "mos_high": score.high,
            "ratings": float(score.ratings),
        }
        rows.append(
            item_row(replace(item, mos=score.mos, labels=tuple(labels.items())), out.parent)
        )
    study = {
        "answers": source,
        "pairs": str(pairs.path),
        "mos": "share of yes answers",
        "ci": f"Wilson score interval, {scores.settings['confidence']:g}",
        "agreement": "Krippendorff's alpha, nominal",
        "alpha": scores.alpha,
        "raters_kept": len(scores.kept),
        "raters_dropped": len(scores.dropped),
        **scores.settings,
    }
    extra = header_records(pairs.path) | {"study": study}
    write_manifest(out, f"{pairs.name}-rated", rows, extra=extra)
    unrated = sorted(set(by_id) - set(scores.pairs))
    return len(rows), unrated
