"""Checkpoints of learned metrics: weights as safetensors plus a JSON config, never pickles.

``NAME.safetensors`` holds the whole model's state (backbone included, so scoring needs no
download); ``NAME.json`` says what it is::

    {"format": "semfid-bench-learned-metric", "version": 1, "kind": "regressor",
     "model": {"backbone": {...}, "depth": 2, ...}, "weights_sha256": "...",
     "training": {"data_sha256": "...", "target": "mos", ...}, "metrics": {"test": {...}}}

A checkpoint is named by a path (with or without suffix) or by a name in the checkpoints
folder, ``$SEMFID_BENCH_CACHE/checkpoints`` (see :mod:`semfid_bench.plugin_api.weights`). Loading
checks the kind, the weights' hash against the JSON and every tensor's name and shape, and
says what is wrong when any of them does not match.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from semfid_bench.learned.backbones import BackboneConfig
from semfid_bench.learned.clu import CLUConfig, build_clu
from semfid_bench.learned.regressor import RegressorConfig, build_regressor
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.weights import cache_root, load_state_dict, sha256_of

FORMAT = "semfid-bench-learned-metric"
VERSION = 1
KINDS = {"regressor": (RegressorConfig, build_regressor), "clu": (CLUConfig, build_clu)}


class CheckpointError(SemfidError):
    """A checkpoint is missing, corrupt, or does not fit the model it claims to be."""


def checkpoints_dir() -> Path:
    """Where checkpoints named without a path live."""
    return cache_root() / "checkpoints"


def model_kind(config: RegressorConfig | CLUConfig) -> str:
    return "regressor" if isinstance(config, RegressorConfig) else "clu"


def config_from_dict(kind: str, data: dict[str, Any]) -> RegressorConfig | CLUConfig:
    values = dict(data)
    values["backbone"] = BackboneConfig.from_dict(values["backbone"])
    return KINDS[kind][0](**values)


def save_checkpoint(model, out: str | Path, extra: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``out.safetensors`` and ``out.json``; ``extra`` (training record, metrics) goes
    into the JSON. Returns both paths."""
    from safetensors.torch import save_file

    stem = Path(out).expanduser()
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights, meta = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights))
    record = {
        "format": FORMAT,
        "version": VERSION,
        "kind": model_kind(model.config),
        "model": asdict(model.config),
        "weights_sha256": sha256_of(weights),
        **_finite(extra),
    }
    meta.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return weights, meta


def _finite(value: Any) -> Any:
    """``value`` with NaN/inf floats (a diverged run) as None, so the JSON stays valid."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def resolve_checkpoint(name: str | Path, folder: str | Path | None = None) -> Path:
    """The ``.json`` of a checkpoint given as a path or a name in the checkpoints folder."""
    path = Path(name).expanduser()
    candidates = [path, Path(folder or checkpoints_dir()) / path]
    for candidate in candidates:
        if candidate.suffix in (".json", ".safetensors"):
            meta = candidate.with_suffix(".json")
        else:
            meta = candidate.with_name(candidate.name + ".json")
        if meta.is_file():
            return meta
    raise CheckpointError(
        f"No checkpoint {name!r}: looked for {candidates[0]} and in {candidates[1].parent}.",
        hint="Pass the path of a checkpoint written by `semfid-bench train` "
        "(NAME.json next to NAME.safetensors).",
    )


def load_checkpoint(name: str | Path, kind: str, folder: str | Path | None = None):
    """The model of a checkpoint, in eval mode, and its JSON record.

    :param kind: ``regressor`` or ``clu``: the kind the caller needs.
    """
    meta = resolve_checkpoint(name, folder)
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"Checkpoint config {meta} is not valid JSON ({exc}).") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{meta} is not a semfid-bench learned-metric checkpoint.")
    if record.get("kind") != kind:
        raise CheckpointError(
            f"Checkpoint {meta} is a {record.get('kind')!r} model, not a {kind!r} one.",
            hint=f"Train one with `semfid-bench train {kind}`.",
        )
    weights = meta.with_suffix(".safetensors")
    if not weights.is_file():
        raise CheckpointError(f"Checkpoint weights {weights} are missing (config: {meta}).")
    if sha256_of(weights) != record.get("weights_sha256"):
        raise CheckpointError(
            f"Checkpoint weights {weights} do not match {meta} (SHA-256 differs): the file was "
            "changed, truncated or comes from another training run."
        )
    try:
        config = config_from_dict(kind, record["model"])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"Checkpoint config {meta} has a bad 'model' entry: {exc}") from exc
    model = KINDS[kind][1](_without_pretraining(config))
    _load_strict(model, load_state_dict(weights), weights)
    return model.eval(), record


def _without_pretraining(config):
    """The same architecture with a random backbone: the checkpoint holds every weight."""
    from dataclasses import replace

    return replace(config, backbone=replace(config.backbone, pretrained=None))


def _load_strict(model, state: dict, path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: file {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k].shape
    ]
    if missing or unexpected or shapes:
        problems = [
            *(f"missing {k}" for k in missing[:5]),
            *(f"unexpected {k}" for k in unexpected[:5]),
            *shapes[:5],
        ]
        raise CheckpointError(
            f"Checkpoint weights {path} do not fit the model its config describes: "
            + "; ".join(problems),
        )
    model.load_state_dict(state)
