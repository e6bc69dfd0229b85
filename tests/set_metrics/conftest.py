"""A random-weights FID Inception checkpoint in the published file's format."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory):
    """Torchvision Inception-v3 (1008 classes, no aux head: the keys of
    ``pt_inception-2015-12-05``), random weights and batch-norm statistics, saved as a
    plain state dict. Built from torchvision's class, not ours."""
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    net = inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=True)
    state = net.state_dict()
    for key, value in state.items():
        if key.endswith("running_mean"):
            value.copy_(torch.randn_like(value) * 0.1)
        elif key.endswith("running_var"):
            value.copy_(torch.rand_like(value) + 0.5)
    path = tmp_path_factory.mktemp("inception") / "pt_inception-random.pth"
    torch.save(state, path)
    return path
