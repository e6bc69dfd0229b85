"""Checkpoint files written the way the real releases were: tensors plus foreign objects.

Fake classes are registered under the real module names (``pytorch_lightning...``,
``omegaconf...``) in ``sys.modules`` only while saving, so the pickle names the real
globals, and the loader under test can never import them.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

MODEL_CHECKPOINT = "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"
DICT_CONFIG = "omegaconf.dictconfig.DictConfig"


@contextmanager
def registered(qualname: str, namespace: dict | None = None) -> Iterator[type]:
    """A fake class importable as ``qualname`` (with its parent packages) while inside."""
    module_name, _, class_name = qualname.rpartition(".")
    parts = module_name.split(".")
    added = [".".join(parts[: i + 1]) for i in range(len(parts))]
    added = [name for name in added if name not in sys.modules]
    for name in added:
        sys.modules[name] = types.ModuleType(name)
    cls = type(class_name, (), dict(namespace or {}))
    cls.__module__, cls.__qualname__ = module_name, class_name
    setattr(sys.modules[module_name], class_name, cls)
    try:
        yield cls
    finally:
        for name in added:
            del sys.modules[name]


def lightning_extras() -> dict:
    """What a PyTorch Lightning 1.4 checkpoint holds besides ``state_dict`` (the version
    StableSR trained with): the ModelCheckpoint class as a key of ``callbacks``, numpy
    scalars, hyper-parameters as omegaconf and argparse objects, optimizer state."""
    with registered(MODEL_CHECKPOINT) as checkpoint_cls, registered(DICT_CONFIG) as config_cls:
        config = config_cls()
        config.__dict__.update({"_content": {"base_learning_rate": 5e-5}, "_parent": None})
        return {
            "epoch": 117,
            "global_step": np.int64(117_000),
            "pytorch-lightning_version": "1.4.2",
            "callbacks": {
                checkpoint_cls: {
                    "monitor": "val/loss_simple_ema",
                    "best_model_score": torch.tensor(0.05),
                    "current_score": np.float32(0.05),
                    "best_model_path": "logs/checkpoints/epoch=000117.ckpt",
                    "dirpath": "logs/checkpoints",
                }
            },
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": np.float64(5e-5)}]}],
            "lr_schedulers": [],
            "hyper_parameters": {"config": config, "args": argparse.Namespace(base="v2.yaml")},
        }


def save_like_lightning(state: dict, path: Path) -> Path:
    """A Lightning-style ``.ckpt`` around ``state`` (the fake classes exist only while
    saving, so the file names their real modules)."""
    with registered(MODEL_CHECKPOINT), registered(DICT_CONFIG):
        torch.save({**lightning_extras(), "state_dict": state}, path)
    return path


def save_with_extras(state: dict, path: Path, key: str | None = None) -> Path:
    """``state`` under ``key`` (RAM's ``model``, BasicSR's ``params_ema``; default
    ``state_dict``) beside training extras: argparse options, a numpy epoch and an omegaconf
    config."""
    with registered(DICT_CONFIG) as config_cls:
        extras = {
            "args": argparse.Namespace(lr=1e-4, epochs=5),
            "epoch": np.int64(4),
            "config": config_cls(),
        }
        torch.save({key or "state_dict": state, **extras}, path)
    return path


def save_with_code(path: Path, sentinel: Path, *, legacy: bool = False) -> Path:
    """A checkpoint whose fake ModelCheckpoint would create ``sentinel`` when unpickled
    (``__reduce__`` to ``os.system``), beside a valid state dict."""

    def reduce(self):
        return (os.system, (f"touch {sentinel}",))

    with registered(MODEL_CHECKPOINT, {"__reduce__": reduce}) as cls:
        obj = {"state_dict": {"w": torch.ones(2)}, "callbacks": {"best": cls()}}
        torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path
