"""A stand-in CUDA device on CPU, so the GPU code path runs where no GPU exists.

Inside :class:`StandInDevice` tensors computed on CPU carry a tag that says "on the GPU".
A tensor is tagged when it is moved there (``.to("cuda")``, ``.cuda()``, a module's
``.to(device)``), created there (``device="cuda"``), or computed from tagged tensors. The
mode then behaves as a second device would:

- ``.device`` of a tagged tensor is ``cuda:0`` (``.is_cuda`` True), so code that follows an
  input's device stays on it;
- an op that mixes tagged and untagged tensors raises, as CUDA does ("Expected all tensors
  to be on the same device"); a 0-dim CPU tensor may join a GPU op, as on CUDA; ``copy_``,
  ``.data =`` and indexing may cross, as on CUDA;
- ``.numpy()`` (and ``numpy.asarray``) of a tagged tensor raises: it must go through
  ``.cpu()`` first, which returns an untagged copy;
- drawing random numbers onto the device from a CPU ``torch.Generator`` raises, as CUDA
  does ("Expected a 'cuda' device type for generator").

The tag belongs to the tensor's storage (views, ``Parameter`` wrappers and ``.data`` share
it). The mode holds each tagged storage until no tensor uses it any more, so its address
cannot be reused by a CPU tensor while it counts as tagged. :func:`patch_cuda_runtime`
makes ``torch.cuda`` report one device, so ``--device auto``/``cuda`` resolve to the
stand-in.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

GPU = torch.device("cuda", 0)
CPU = torch.device("cpu")

# Ops that may legally take tensors on two devices (CUDA allows these to cross).
_MAY_CROSS = {"copy_", "__set__", "__getitem__", "__setitem__", "_has_compatible_shallow_copy_type"}
_GETTERS = {
    torch.Tensor.device: "device",
    torch.Tensor.is_cuda: "is_cuda",
    torch.Tensor.is_cpu: "is_cpu",
}


class DeviceMixError(RuntimeError):
    """What the stand-in raises where a real GPU run would fail."""


def _on_gpu(device: Any) -> bool | None:
    """True for a CUDA device, False for another one, None when no device is given."""
    if device is None:
        return None
    if isinstance(device, int):
        return True
    return torch.device(device).type == "cuda"


class StandInDevice(TorchFunctionMode):
    """The tensor-level half of the stand-in (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._storages: dict[int, torch.UntypedStorage] = {}
        self._kept = 1024
        self.ops = 0

    def tagged(self, tensor: torch.Tensor) -> bool:
        """Whether ``tensor`` is on the stand-in device."""
        try:
            pointer = tensor.untyped_storage().data_ptr()
        except (RuntimeError, NotImplementedError):
            return False
        return pointer in self._storages

    def _tag(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer and pointer not in self._storages:
            self._storages[pointer] = storage
            if len(self._storages) > 2 * self._kept:
                self._forget_freed()

    def _forget_freed(self) -> None:
        """Drop storages only the stand-in still holds (their tensors are gone)."""
        self._storages = {
            pointer: storage
            for pointer, storage in self._storages.items()
            if torch._C._storage_Use_Count(storage._cdata) > 1
        }
        self._kept = max(len(self._storages), 1024)

    def _tag_all(self, result: Any) -> Any:
        for leaf in tree_flatten(result)[0]:
            if isinstance(leaf, torch.Tensor):
                self._tag(leaf)
        return result

    def _move(self, tensor: torch.Tensor, to_gpu: bool | None, dtype, copy: bool):
        """``tensor.to``/``.cuda``/``.cpu`` on the stand-in: a copy whenever the device changes."""
        source = self.tagged(tensor)
        target = source if to_gpu is None else to_gpu
        moved = tensor.to(dtype=dtype, copy=copy or source != target)
        if target:
            self._tag(moved)
        return moved

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        self.ops += 1
        name = getattr(func, "__name__", "")
        owner = getattr(func, "__self__", None)
        if name == "__get__" and owner in _GETTERS:
            tagged = self.tagged(args[0])
            attribute = _GETTERS[owner]
            if attribute == "device":
                return GPU if tagged else func(*args, **kwargs)
            return tagged if attribute == "is_cuda" else not tagged
        if name == "_parse_to":  # Module.to(device=...) parses before moving: keep the device
            return func(*args, **kwargs)
        if func is torch.Tensor.to:
            return self._to(args, kwargs)
        if func is torch.Tensor.type_as:
            return self._move(args[0], self.tagged(args[1]), args[1].dtype, False)
        if func is torch.Tensor.cuda:
            return self._move(args[0], True, None, False)
        if func is torch.Tensor.cpu:
            return self._move(args[0], False, None, False)
        if func in (torch.Tensor.numpy, torch.Tensor.__array__) and self.tagged(args[0]):
            raise DeviceMixError(
                "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy "
                "the tensor to host memory first."
            )
        target = _on_gpu(kwargs.get("device"))
        if target:
            kwargs["device"] = CPU
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        on_gpu = [self.tagged(t) for t in tensors]
        if name not in _MAY_CROSS and any(on_gpu):
            pairs = zip(tensors, on_gpu, strict=True)
            host = [t for t, g in pairs if not g and t.dim() > 0 and t.numel()]
            if host:
                raise DeviceMixError(
                    f"Expected all tensors to be on the same device, but found at least two "
                    f"devices, cuda:0 and cpu! ({name}: a CPU tensor of shape "
                    f"{tuple(host[0].shape)} meets stand-in GPU tensors)"
                )
        if name in _MAY_CROSS:  # the result (if any) lives where the first tensor does
            result = func(*args, **kwargs)
            return self._tag_all(result) if on_gpu and on_gpu[0] else result
        gpu_result = target if target is not None else any(on_gpu)
        if gpu_result:
            self._refuse_cpu_generator(name, args, kwargs)
        result = func(*args, **kwargs)
        return self._tag_all(result) if gpu_result else result

    def _to(self, args: tuple, kwargs: dict) -> torch.Tensor:
        tensor, rest = args[0], args[1:]
        copy = bool(kwargs.pop("copy", False))
        if rest and isinstance(rest[0], torch.Tensor):
            other = rest[0]
            return self._move(tensor, self.tagged(other), other.dtype, copy)
        device, dtype, _non_blocking, _memory_format = torch._C._nn._parse_to(*rest, **kwargs)
        return self._move(tensor, _on_gpu(device), dtype, copy)

    @staticmethod
    def _refuse_cpu_generator(name: str, args: tuple, kwargs: dict) -> None:
        generators = [g for g in (*args, kwargs.get("generator")) if isinstance(g, torch.Generator)]
        if any(g.device.type == "cpu" for g in generators):
            raise DeviceMixError(
                f"Expected a 'cuda' device type for generator but found 'cpu' ({name} draws "
                "onto the stand-in GPU from a CPU generator)"
            )


def patch_cuda_runtime(monkeypatch, name: str = "Stand-in GPU", memory_gib: float = 80) -> None:
    """``torch.cuda`` reports one device (``name``, ``memory_gib``) and its calls do nothing."""
    properties = SimpleNamespace(
        name=name, total_memory=int(memory_gib * 2**30), major=9, minor=0, multi_processor_count=1
    )
    free = (properties.total_memory, properties.total_memory)
    replacements = {
        "is_available": lambda: True,
        "device_count": lambda: 1,
        "current_device": lambda: 0,
        "set_device": lambda device: None,
        "synchronize": lambda device=None: None,
        "empty_cache": lambda: None,
        "get_device_properties": lambda device=None: properties,
        "get_device_name": lambda device=None: name,
        "get_device_capability": lambda device=None: (9, 0),
        "is_bf16_supported": lambda including_emulation=True: True,
        "mem_get_info": lambda device=None: free,
        "memory_allocated": lambda device=None: 0,
        "max_memory_allocated": lambda device=None: 0,
        "reset_peak_memory_stats": lambda device=None: None,
    }
    for attribute, replacement in replacements.items():
        monkeypatch.setattr(torch.cuda, attribute, replacement)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
