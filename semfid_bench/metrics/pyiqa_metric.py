"""Any pyiqa metric as a semfid-bench metric: ``pyiqa:<name>``.

pyiqa keeps its weights in its own cache (``$TORCH_HOME/hub/pyiqa``) and downloads them
on first use; a local checkpoint goes through ``--set pyiqa:NAME.pretrained_model_path=PATH``
(pyiqa passes extra options to the metric's constructor). Images are scored in batches
under ``torch.inference_mode``; full-reference metrics get the GT, no-reference ones not.
"""

from __future__ import annotations

from typing import Any

import torch

from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference


class PyiqaMetric(Metric):
    """A pyiqa ``InferenceModel``, created lazily on the run's device."""

    def __init__(
        self,
        name: str,
        full_reference: bool,
        device: torch.device | None = None,
        batch_size: int = 8,
        **options: Any,
    ) -> None:
        self.name = name
        self.full_reference = full_reference
        self.device = torch.device(device or "cpu")
        self.batch_size = int(batch_size)
        self.options = options
        self._metric = None
        self._failure: WeightsUnavailableError | None = None

    @property
    def metric(self):
        if self._failure is not None:  # one download attempt per run, not one per cell
            raise self._failure
        if self._metric is None:
            import pyiqa

            try:
                self._metric = pyiqa.create_metric(
                    self.name, as_loss=False, device=self.device, **self.options
                )
            except (OSError, RuntimeError) as exc:
                self._failure = WeightsUnavailableError(
                    f"pyiqa metric {self.name!r} could not load its weights ({exc}).",
                    hint="Run once with network access (pyiqa caches weights under "
                    "$TORCH_HOME/hub/pyiqa) or pass a checkpoint with "
                    f"--set pyiqa:{self.name}.pretrained_model_path=PATH.",
                )
                raise self._failure from exc
        return self._metric

    def reference(self, gt: torch.Tensor, items) -> torch.Tensor | None:
        return gt if self.full_reference else None

    @torch.inference_mode()
    def score(self, sr: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
        if self.full_reference:
            reference = broadcast_reference(reference, len(sr))
        out = []
        for start in range(0, sr.shape[0], self.batch_size):
            batch = sr[start : start + self.batch_size].to(self.device)
            if self.full_reference:
                ref = reference[start : start + self.batch_size].to(self.device)
                out.append(self.metric(batch, ref))
            else:
                out.append(self.metric(batch))
        return torch.cat([o.reshape(-1) for o in out]).float().cpu()
