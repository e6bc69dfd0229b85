"""How a plugin executes, as it enters a result's key: device type, effective precision,
TF32 policy and whatever else a plugin reports (its tiling, say), so that rows computed on
CPU and on a GPU, or in fp32 and fp16, never share a key. Also the run-wide TF32 policy,
set at the start of a run and restored after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from semfid_bench.plugin_api.interfaces import ReportsExecution

TF32_CHOICES = ("off", "on")
"""``--tf32`` values. Off by default: metrics that claim parity with a reference
implementation (LPIPS, CLIP, the learned metrics) then compute matmuls and convolutions in
full fp32 on Ampere and newer GPUs, as on CPU."""


def plugin_execution(plugin: Any, device: Any, tf32: bool) -> dict[str, Any]:
    """What determines how ``plugin`` computes on ``device`` beyond its options: the device
    type, TF32 (CUDA only, where it has an effect), the precision of a ``dtype`` attribute,
    and anything the plugin's own ``execution()`` reports (which takes precedence)."""
    import torch

    record: dict[str, Any] = {"device": torch.device(device).type}
    if record["device"] == "cuda":
        record["tf32"] = tf32
    dtype = getattr(plugin, "dtype", None)
    if isinstance(dtype, torch.dtype):
        record["dtype"] = str(dtype).removeprefix("torch.")
    if isinstance(plugin, ReportsExecution):
        record.update(plugin.execution())
    return record


def tf32_flags() -> dict[str, bool]:
    """The TF32 switches PyTorch uses for CUDA matmuls and cuDNN convolutions."""
    import torch

    return {
        "matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "cudnn": bool(torch.backends.cudnn.allow_tf32),
    }


@contextmanager
def tf32_policy(enabled: bool) -> Iterator[None]:
    """Both TF32 switches set to ``enabled`` inside the block, restored after."""
    import torch

    before = tf32_flags()
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before["matmul"]
        torch.backends.cudnn.allow_tf32 = before["cudnn"]
