"""The in-process executor, and the plugin setup every executor shares.

:func:`build_computer` creates a run's plugins where they will compute (this process, or
a Ray actor) and fills in each plugin key's execution record (device type, precision...)
from the instances. :class:`LocalExecutor` computes chunks in this process, decoding and
degrading the next chunks in a background thread while the current one computes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from semfid_bench.execution.executors.compute import CellComputer, CellResult, Settings
from semfid_bench.execution.executors.models import ModelPool
from semfid_bench.execution.planner import ItemTask
from semfid_bench.execution.plugin_execution import plugin_execution
from semfid_bench.execution.store import PluginKey, canonical_options
from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.plugin_api.registry import Registry

if TYPE_CHECKING:
    from semfid_bench.execution.runner import RunConfig

Keys = dict[tuple[str, str], PluginKey]


@dataclass
class Job:
    """Everything an executor needs to set up its plugins: the run's configuration, the
    factory options by ``(kind, name)`` and the plugin keys (execution not yet filled)."""

    config: RunConfig
    options: dict[tuple[str, str], dict]
    keys: Keys


def build_computer(
    registry: Registry, job: Job, device: Any
) -> tuple[CellComputer, ModelPool, Keys]:
    """The job's plugins created on ``device`` (degradations on CPU, so LR images are
    bit-identical on any device), a computer using them, its model pool, and the keys with
    each plugin's execution filled in.

    SR models are created one after another through the pool, which releases what the
    ``--gpu-memory`` budget cannot hold. Missing weights are collected across plugins and
    reported together, so one attempt tells a user every file to fetch."""
    import torch

    config, options = job.config, job.options
    cpu, tf32 = torch.device("cpu"), config.tf32 == "on"
    missing: list[WeightsUnavailableError] = []
    execution: dict[tuple[str, str], dict] = {}

    def create(kind: str, name: str, where, **kwargs: Any) -> Any:
        try:
            plugin = registry.create(
                kind, name, **kwargs, device=where, **options.get((kind, name), {})
            )
        except WeightsUnavailableError as exc:
            missing.append(exc)
            return None
        execution[kind, name] = plugin_execution(plugin, where, tf32)
        return plugin

    pool = ModelPool(
        lambda name: registry.create(
            "sr_model",
            name,
            scale=config.scale,
            device=device,
            **options.get(("sr_model", name), {}),
        ),
        {n: registry.get("sr_model", n).spec.gpu_memory_gib for n in config.models},
        _model_budget(registry, config),
    )
    for name in config.models:
        try:
            model = pool.get(name)
        except WeightsUnavailableError as exc:
            missing.append(exc)
            continue
        execution["sr_model", name] = plugin_execution(model, device, tf32)
    degradations = {
        n: create("degradation", n, cpu, scale=config.scale) for n in config.degradations
    }
    metrics = {n: create("metric", n, device) for n in config.metrics}
    if len(missing) == 1:
        raise missing[0]
    if missing:
        raise WeightsUnavailableError(
            f"{len(missing)} weights are not available:\n"
            + "\n".join(f"  - {exc.message}\n    {exc.hint}" for exc in missing),
            hint="`semfid-bench prefetch` with the same --models/--metrics/--set downloads "
            "everything a run needs.",
        )
    keys = {
        kind_name: replace(key, execution=canonical_options(execution[kind_name]))
        for kind_name, key in job.keys.items()
    }
    settings = Settings(
        scale=config.scale,
        seed=config.seed,
        max_pixels=config.max_pixels,
        batch_size=config.batch_size,
        device=device,
        save_images=config.save_images,
    )
    specs = {n: registry.get("metric", n).spec for n in config.metrics}
    computer = CellComputer(settings, pool.get, degradations, metrics, specs, keys, pool.end_chunk)
    return computer, pool, keys


def _model_budget(registry: Registry, config: RunConfig) -> float | None:
    """``--gpu-memory`` less what the metrics (always loaded) are estimated to take."""
    if config.gpu_memory_gib is None:
        return None
    metrics = sum(registry.get("metric", n).spec.gpu_memory_gib or 0.0 for n in config.metrics)
    budget = config.gpu_memory_gib - metrics
    if budget <= 0:
        raise SemfidError(
            f"--gpu-memory {config.gpu_memory_gib:g} GiB leaves no room for SR models: the "
            f"metrics alone are estimated at {metrics:g} GiB.",
            hint="Raise --gpu-memory or run fewer metrics at once.",
        )
    return budget


class LocalExecutor:
    """Computes chunks in this process; the next ``prefetch`` chunks are decoded and
    degraded in a background thread meanwhile (bounded: at most that many chunks of
    images wait in memory)."""

    def __init__(self, registry: Registry, job: Job, device: Any, prefetch: int = 1) -> None:
        self._registry, self._job, self._device = registry, job, device
        self._prefetch = prefetch
        self._computer: CellComputer | None = None
        self.pool: ModelPool | None = None

    def start(self) -> Keys:
        """Create the plugins; the keys with their execution records."""
        self._computer, self.pool, keys = build_computer(self._registry, self._job, self._device)
        return keys

    def environment(self) -> dict[str, Any]:
        """What this process computes on (see
        :func:`semfid_bench.execution.runner.environment_record`)."""
        from semfid_bench.execution.runner import environment_record

        return environment_record(self._device)

    def run(self, chunks: Iterator[list[ItemTask]], lookahead: bool = True) -> Iterator[CellResult]:
        """Each planned cell's result, chunk after chunk. Chunks are drawn from ``chunks``
        (the planner, which claims them) in the calling thread only; ``lookahead`` False
        draws the next chunk only once the current one is done (the planner's waiting
        pass, which must not block while this run holds unstored claims)."""
        computer = self._computer
        ahead = self._prefetch if lookahead else 0
        pending: deque = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="semfid-load") as loader:

            def fill() -> None:
                while len(pending) <= ahead:
                    chunk = next(chunks, None)
                    if chunk is None:
                        return
                    pending.append(loader.submit(computer.load, chunk))

            while True:
                fill()  # the current chunk and ``ahead`` more, loading meanwhile
                if not pending:
                    return
                yield from computer.compute(pending.popleft().result())

    def close(self) -> None:
        if self.pool is not None:
            self.pool.release_all()
