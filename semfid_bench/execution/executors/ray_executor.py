"""The Ray executor: the planner's chunks computed by Ray actors across GPUs and nodes.

One actor per GPU (``gpus_per_worker`` each), or per CPU slot on a cluster without GPUs,
each creating the run's plugins once
(:func:`~semfid_bench.execution.executors.local.build_computer`) and keeping them. Chunks
are item-grouped, so GT-side work stays once per item; their input bytes travel through
Ray's object store (no shared filesystem needed). The driver keeps at most two chunks in
flight per actor (back-pressure: never the whole plan's images), and yields every cell's
rows as chunks come back, so the runner stores them as they arrive. A chunk whose actor died
is queued again for the remaining actors; nothing of it was stored, because results come
back only with a whole chunk. Ray is imported only when used.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from typing import Any

from semfid_bench.execution.executors.compute import CellResult
from semfid_bench.execution.executors.local import Job, Keys, build_computer
from semfid_bench.execution.planner import ItemTask
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.registry import Registry

IN_FLIGHT_PER_WORKER = 2
"""Chunks sent to an actor before its first comes back: the next one's bytes are already
there when it finishes the current one."""


def import_ray():
    """The ``ray`` module, or an error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SemfidError(
            "--executor ray needs Ray, which is not installed.",
            hint='pip install "semfid-bench[ray]"  (or run without --executor ray)',
        ) from None
    return ray


class Worker:
    """One actor's state: the run's plugins, created once on the actor's device."""

    def __init__(self, registry: Registry, job: Job) -> None:
        from semfid_bench.execution.device import resolve_device
        from semfid_bench.execution.plugin_execution import tf32_policy

        self._tf32 = tf32_policy(job.config.tf32 == "on")
        self._tf32.__enter__()  # this process serves the run alone
        self.device = resolve_device(job.config.device)
        self.computer, self.pool, self.keys = build_computer(registry, job, self.device)

    def setup(self) -> tuple[Keys, dict[str, Any]]:
        """The keys with this worker's execution records, and its environment record."""
        from semfid_bench.execution.runner import environment_record

        return self.keys, environment_record(self.device) | {"pid": os.getpid()}

    def compute(self, chunk: list[ItemTask]) -> list[CellResult]:
        return list(self.computer.compute(self.computer.load(chunk)))


class RayExecutor:
    """Computes chunks on Ray actors (see the module docstring). ``ray.init`` is called
    with ``config.ray_address`` unless Ray is already initialised in this process."""

    def __init__(self, registry: Registry, job: Job) -> None:
        self._ray = import_ray()
        self._registry, self._job = registry, job
        self._actors: list[Any] = []
        self._alive: list[int] = []
        self._started_ray = False
        self._environment: dict[str, Any] = {}
        self.requeued = 0
        """Chunks sent again because their actor died."""

    def start(self) -> Keys:
        """Start Ray if needed and the actors; the keys with the workers' execution."""
        ray, config = self._ray, self._job.config
        if not ray.is_initialized():
            ray.init(address=config.ray_address, log_to_driver=False)
            self._started_ray = True
        gpus = ray.cluster_resources().get("GPU", 0)
        per_worker = config.gpus_per_worker if gpus else 0
        count = config.workers or (max(1, int(gpus // per_worker)) if gpus else 1)
        remote = ray.remote(num_cpus=1, num_gpus=per_worker)(Worker)
        registry, job = ray.put(self._registry), ray.put(self._job)
        self._actors = [remote.remote(registry, job) for _ in range(count)]
        self._alive = list(range(count))
        setups = ray.get([actor.setup.remote() for actor in self._actors])
        kinds = {_comparable(keys) for keys, _ in setups}
        if len(kinds) > 1:
            raise SemfidError(
                "Ray workers compute differently (device type or precision differ), so "
                "their rows would not share keys.",
                hint="Give every worker the same kind of device (--gpus-per-worker).",
            )
        keys, environment = setups[0]
        self._environment = environment | {"ray_workers": count}
        return keys

    def environment(self) -> dict[str, Any]:
        """The first worker's environment record and the number of workers."""
        return self._environment

    def run(self, chunks: Iterator[list[ItemTask]], lookahead: bool = True) -> Iterator[CellResult]:
        """Every planned cell's result as its chunk comes back; ``lookahead`` False sends
        one chunk at a time (see :meth:`LocalExecutor.run`)."""
        ray = self._ray
        limit = IN_FLIGHT_PER_WORKER if lookahead else 1
        queue: deque[list[ItemTask]] = deque()
        in_flight: dict[Any, tuple[list[ItemTask], int]] = {}
        load = dict.fromkeys(self._alive, 0)
        exhausted = False
        while True:
            while lookahead or not in_flight:
                free = [i for i in self._alive if load[i] < limit]
                chunk = queue.popleft() if free and queue else None
                if free and chunk is None and not exhausted:
                    chunk = next(chunks, None)
                    exhausted = chunk is None
                if chunk is None:
                    break
                worker = min(free, key=load.__getitem__)
                in_flight[self._actors[worker].compute.remote(chunk)] = (chunk, worker)
                load[worker] += 1
            if not in_flight:
                return
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            chunk, worker = in_flight.pop(ref)
            load[worker] -= 1
            try:
                results = ray.get(ref)
            except ray.exceptions.RayActorError:
                self._lost(worker)
                queue.append(chunk)
                self.requeued += 1
                continue
            yield from results

    def _lost(self, worker: int) -> None:
        if worker in self._alive:
            self._alive.remove(worker)
        if not self._alive:
            raise SemfidError(
                "Every Ray worker died; the cells stored so far are kept.",
                hint="Look at the Ray logs (out of memory?) and run the same command again "
                "to compute the rest.",
            )

    def close(self) -> None:
        ray = self._ray
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started_ray:
            ray.shutdown()


def _comparable(keys: Keys) -> tuple:
    """Keys as a hashable value (to compare workers' keys)."""
    return tuple(sorted((kind, name, key.key) for (kind, name), key in keys.items()))
