"""Training runs cuDNN deterministically and leaves the process's global cuDNN flags as it
found them."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.learned import training
from semfid_bench.learned.recipes import train_model
from semfid_bench.learned.regressor import RegressorConfig
from semfid_bench.learned.training import TrainOptions


@pytest.mark.parametrize("before", [(False, True), (True, False)])
def test_train_model_restores_the_cudnn_flags(
    small_pairs, tiny_backbone, one_thread, monkeypatch, before
):
    cudnn = torch.backends.cudnn
    monkeypatch.setattr(cudnn, "deterministic", before[0])
    monkeypatch.setattr(cudnn, "benchmark", before[1])
    during = []
    evaluate = training.evaluate

    def spy(*args, **kwargs):
        during.append((cudnn.deterministic, cudnn.benchmark))
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", spy)
    config = RegressorConfig(backbone=tiny_backbone, depth=3, input_size=32, finetune=True)
    options = TrainOptions(epochs=1, batch_size=8, seed=0)
    train_model(small_pairs, config, options, target="fraction")
    assert during and set(during) == {(True, False)}  # deterministic while training
    assert (cudnn.deterministic, cudnn.benchmark) == before
