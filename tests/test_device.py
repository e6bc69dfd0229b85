"""--device: cuda:N is validated against the GPUs present and made the current device."""

import pytest
import torch

from semfid_bench.execution.device import resolve_device
from semfid_bench.plugin_api.errors import SemfidError


@pytest.fixture
def two_gpus(monkeypatch):
    """A stand-in machine with two CUDA devices; records ``set_device`` calls."""
    current: list = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    return current


def test_cuda_n_becomes_the_current_device(two_gpus):
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert two_gpus == [torch.device("cuda:1")]


def test_cuda_n_beyond_the_device_count_is_refused(two_gpus):
    with pytest.raises(SemfidError, match=r"'cuda:2'.*2 CUDA device\(s\).*cuda:0 to cuda:1"):
        resolve_device("cuda:2")
    assert two_gpus == []


def test_plain_cuda_and_auto_leave_the_current_device_alone(two_gpus):
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("auto") == torch.device("cuda")
    assert two_gpus == []


def test_cuda_without_cuda_and_unknown_names_are_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SemfidError, match="CUDA is not available"):
        resolve_device("cuda:0")
    with pytest.raises(SemfidError, match="Unknown device"):
        resolve_device("gpu7")
    assert resolve_device("auto") == torch.device("cpu")
