"""Per-item explanations: the pairs a report explains, with every score and artefact.

Which pairs: per model and degradation level (one cell: dataset, degradation variant,
level, scale, seed, model variant), the ``per_cell`` items that score worst on the
explaining metric (the report's ranking metric unless chosen): its lowest values if
higher is better, its highest otherwise; ties go to the smaller item id. For each, every
metric's score on that pair (or its error) and the artefacts each metric's factory reads
from its stored details (:class:`~semfid_bench.plugin_api.interfaces.ProducesArtefacts`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from semfid_bench.plugin_api.artefacts import Artefact, Captions, ClassMap, ConceptChanges, MapImage
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.interfaces import ProducesArtefacts
from semfid_bench.plugin_api.registry import Registry, resolve_factory
from semfid_bench.plugin_api.specs import MetricSpec
from semfid_bench.report.boards import GROUP
from semfid_bench.report.labels import with_variant_labels

CELL = [*GROUP, "model"]
ARTEFACT_TYPES = (ConceptChanges, Captions, MapImage, ClassMap)


@dataclass(frozen=True)
class MetricScore:
    """One metric's result on the pair: its value, or the error it stored."""

    metric: str
    value: float | None
    arrow: str
    error: str | None = None


@dataclass(frozen=True)
class MetricArtefact:
    """An artefact and the metrics whose details hold it (the correctness metrics share
    one class map; it is shown once)."""

    metrics: tuple[str, ...]
    artefact: Artefact


@dataclass(frozen=True)
class Explanation:
    """One explained pair: where it comes from, why it was chosen, all its scores, its
    artefacts and what could not be shown (``notes``)."""

    dataset: str
    item_id: str
    model: str
    degradation: str
    level: float
    scale: int
    seed: int
    chosen_by: str
    rank: int
    scores: tuple[MetricScore, ...]
    artefacts: tuple[MetricArtefact, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"{self.item_id} · {self.model} · {self.degradation}@{self.level:g}"

    def score(self, metric: str) -> MetricScore | None:
        return next((s for s in self.scores if s.metric == metric), None)


def selection_rule(explanations: list[Explanation]) -> str:
    """The rule that chose ``explanations``, in words, for the report."""
    first = explanations[0]
    chosen = first.score(first.chosen_by)
    arrow = chosen.arrow if chosen else ""
    worst = "lowest" if arrow == "↑" else "highest"
    most = max(e.rank for e in explanations)
    return (
        f"Per model and degradation level, the {most} pair(s) with the {worst} "
        f"{first.chosen_by} {arrow} (the most changed by that metric; ties by item id). "
        "Each page shows the GT and SR images, every metric's score and what the metrics' "
        "details explain."
    )


def explain(
    results: pd.DataFrame,
    specs: dict[str, MetricSpec],
    by: str,
    registry: Registry,
    per_cell: int = 2,
) -> list[Explanation]:
    """Explanations of the ``per_cell`` most changed pairs per cell by metric variant
    ``by`` (a label of the labelled results, or a metric name with one variant).
    ``results`` is the store's frame, error rows included (they become scores with their
    error); ``registry`` finds each metric's factory (a metric not installed here keeps
    its scores, with a note)."""
    data = with_variant_labels(results)
    if data.empty or per_cell < 1:
        return []
    names = data.get("metric_name", data["metric"])
    label_specs = dict(zip(data["metric"], names.map(specs.get), strict=True))
    variants = sorted(set(data.loc[names == by, "metric"]))
    by = variants[0] if by not in label_specs and len(variants) == 1 else by
    if label_specs.get(by) is None:
        raise SemfidError(
            f"Cannot explain pairs by {by!r}: no results with a spec for it.",
            hint=f"Metrics present: {sorted(label_specs)}.",
        )
    producers = _producers(registry, sorted(set(names)))
    ranked = data[(data["metric"] == by) & data["error"].isna() & data["value"].notna()]
    ranked = ranked.sort_values(
        ["value", "item_id"], ascending=[label_specs[by].higher_is_better, True], kind="stable"
    )
    by_pair = {key: rows for key, rows in data.groupby([*CELL, "item_id"], sort=False)}
    explanations = []
    for cell, chosen in ranked.groupby(CELL, sort=True):
        for rank, item_id in enumerate(chosen["item_id"].head(per_cell), start=1):
            rows = by_pair[(*cell, item_id)]
            explanations.append(_explanation(cell, item_id, rank, by, rows, label_specs, producers))
    return explanations


def _producers(registry: Registry, names: list[str]) -> dict[str, ProducesArtefacts | str]:
    """Per metric name: its factory if it produces artefacts, else why there are none."""
    found: dict[str, ProducesArtefacts | str] = {}
    for name in names:
        try:
            factory = resolve_factory(registry.get("metric", name).factory)
        except SemfidError as exc:
            found[name] = f"metric {name} is not installed here ({exc.message})"
            continue
        if isinstance(factory, ProducesArtefacts):
            found[name] = factory
    return found


def _explanation(cell, item_id, rank, by, rows, specs, producers) -> Explanation:
    dataset, degradation, level, scale, seed, model = cell
    scores, shown, notes = [], {}, []
    for row in rows.sort_values("metric").to_dict("records"):
        label, name = row["metric"], row.get("metric_name", row["metric"])
        spec = specs.get(label)
        value = row["value"]
        value = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
        error = row["error"] if isinstance(row["error"], str) else None
        scores.append(MetricScore(label, value, spec.arrow if spec else "", error))
        producer = producers.get(name)
        if isinstance(producer, str):
            notes.append(f"{producer}: its details are not shown.")
        elif producer is not None and isinstance(row["details"], str):
            try:
                for artefact in _artefacts(producer, row["details"]):
                    shown.setdefault(artefact, []).append(label)
            except Exception as exc:  # a plugin's code on stored data: never lose the page
                notes.append(f"{label}: its details could not be shown: {exc}")
    return Explanation(
        dataset=str(dataset),
        item_id=str(item_id),
        model=str(model),
        degradation=str(degradation),
        level=float(level),
        scale=int(scale),
        seed=int(seed),
        chosen_by=by,
        rank=rank,
        scores=tuple(scores),
        artefacts=tuple(MetricArtefact(tuple(m), a) for a, m in shown.items()),
        notes=tuple(dict.fromkeys(notes)),
    )


def _artefacts(producer: ProducesArtefacts, text: str) -> list[Artefact]:
    details: Any = json.loads(text)
    if not isinstance(details, dict):
        raise ValueError("details are not a JSON object")
    artefacts = producer.artefacts(details)
    wrong = [a for a in artefacts if not isinstance(a, ARTEFACT_TYPES)]
    if wrong:
        raise ValueError(f"artefacts returned {type(wrong[0]).__name__}, not an artefact type")
    return artefacts
