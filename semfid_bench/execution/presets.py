"""``run --preset NAME``: a preset's selection merged with what the user typed."""

from __future__ import annotations

from dataclasses import dataclass, replace

from semfid_bench.plugin_api.options import SCOPES
from semfid_bench.plugin_api.specs import PresetSpec


@dataclass(frozen=True)
class PresetSelection:
    """What a run does once a preset is applied: the command line's explicit choices win,
    the preset fills in the rest, and its ``--set`` assignments come first so the user's
    own replace them."""

    datasets: list[str]
    models: str
    metrics: str
    degradations: str
    levels: str | None
    options: list[str]


def apply_preset(
    preset: PresetSpec,
    *,
    dataset: str,
    models: str,
    metrics: str,
    degradations: str,
    levels: str | None,
    options: list[str],
    explicit: set[str],
) -> PresetSelection:
    """Merge ``preset`` into the command line's values; ``explicit`` names the options the
    user typed (``dataset``, ``models``, ``metrics``, ``degradations``, ``levels``). The
    preset's ``--set`` assignments for plugins the user deselected are dropped."""

    def pick(name: str, mine, theirs):
        return mine if name in explicit or not theirs else theirs

    chosen = PresetSelection(
        datasets=[dataset] if "dataset" in explicit else list(preset.datasets),
        models=pick("models", models, ",".join(preset.models)),
        metrics=pick("metrics", metrics, ",".join(preset.metrics)),
        degradations=pick("degradations", degradations, ",".join(preset.degradations)),
        levels=pick("levels", levels, ",".join(f"{v:g}" for v in preset.levels)),
        options=list(options),
    )
    selected = {n.strip() for text in (chosen.models, chosen.metrics, chosen.degradations)
                for n in text.split(",")}  # fmt: skip
    kept = [a for a in preset.options if "all" in selected or _target(a) in selected]
    return replace(chosen, options=[*kept, *options])


def _target(assignment: str) -> str:
    """The plugin a ``[KIND:]NAME.KEY=VALUE`` assignment is for (its NAME)."""
    target = assignment.partition("=")[0].rpartition(".")[0]
    prefix, colon, rest = target.partition(":")
    return rest if colon and prefix in SCOPES else target
