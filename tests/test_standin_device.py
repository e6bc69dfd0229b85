"""The stand-in device behaves like a second device: the harness other tests rely on."""

import numpy as np
import pytest
import torch

from semfid_bench.execution.device import resolve_device
from tests.standin_device import DeviceMixError


def test_moved_tensors_report_the_gpu_and_come_back_untagged(standin_gpu):
    host = torch.arange(6.0).reshape(2, 3)
    gpu = host.to("cuda")
    assert gpu.device == torch.device("cuda", 0) and gpu.is_cuda and host.device.type == "cpu"
    assert (gpu * 2).device.type == "cuda" and gpu[0].device.type == "cuda"
    assert torch.zeros(2, device=gpu.device).is_cuda
    assert torch.zeros_like(gpu).is_cuda and gpu.new_zeros(3).is_cuda
    back = gpu.cpu()
    assert back.device.type == "cpu" and np.array_equal(back.numpy(), host.numpy())
    assert gpu.to(torch.float16).is_cuda and gpu.to(host).device.type == "cpu"
    assert resolve_device("auto") == torch.device("cuda")


def test_mixing_devices_raises(standin_gpu):
    gpu = torch.ones(2, 3).cuda()
    with pytest.raises(DeviceMixError, match="same device"):
        gpu + torch.ones(2, 3)
    with pytest.raises(DeviceMixError, match="same device"):
        torch.cat([gpu, torch.ones(2, 3)])
    assert (gpu * torch.tensor(2.0)).is_cuda  # a 0-dim CPU tensor may join, as on CUDA
    gpu.copy_(torch.zeros(2, 3))  # copies may cross
    assert gpu.sum().item() == 0


def test_numpy_of_a_gpu_tensor_raises(standin_gpu):
    gpu = torch.ones(2).to("cuda")
    with pytest.raises(DeviceMixError, match="numpy"):
        gpu.numpy()
    with pytest.raises(DeviceMixError, match="numpy"):
        np.asarray(gpu)


def test_cpu_generators_cannot_draw_onto_the_gpu(standin_gpu):
    generator = torch.Generator("cpu").manual_seed(0)
    with pytest.raises(DeviceMixError, match="generator"):
        torch.randn(2, generator=generator, device="cuda")
    with pytest.raises(DeviceMixError, match="generator"):
        torch.ones(2).cuda().normal_(generator=generator)
    assert torch.randn(2, generator=generator).to("cuda").is_cuda  # draw on CPU, then move


def test_modules_move_with_their_parameters_and_buffers(standin_gpu):
    layer = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).to("cuda")
    assert all(p.is_cuda for p in layer.parameters()) and all(b.is_cuda for b in layer.buffers())
    assert layer(torch.ones(1, 3, 8, 8, device="cuda")).is_cuda
    with pytest.raises(DeviceMixError):
        layer(torch.ones(1, 3, 8, 8))
    layer.to(torch.float16).cpu()
    assert not any(p.is_cuda for p in layer.parameters())


def test_modules_moved_by_keyword_move_too(standin_gpu):
    layer = torch.nn.Linear(2, 2).to(device=torch.device("cuda"), dtype=None)
    assert layer.weight.is_cuda


def test_indexing_a_gpu_tensor_stays_on_the_gpu(standin_gpu):
    table = torch.arange(6.0).cuda()
    assert table[torch.tensor([0, 2])].is_cuda and table[1:].is_cuda
