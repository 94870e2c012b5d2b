"""Run the scheduler's jobs as Ray tasks, on every node of a cluster (`--executor ray`).

Each job is one generator task that runs `call(job, progress)`, the same code the local
workers run, and yields where it runs, its progress (throttled) and then its result or a
one-line error. Where the cluster has GPUs, every job is a GPU task of half a GPU (two a GPU,
as locally); else a CPU task of one core, pinned to a core of its node that no other cell
holds, with the one-thread XLA flags, so that a cell computes the same numbers as the local
executor's pinned workers. Exclusive (timed) jobs run on one node. A job whose worker or node
dies runs again, elsewhere if need be; stopping cancels every live task at once. The tasks
themselves are `bntui.procs.ray_cell`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from bntui.core.spec import ExperimentSpec
from bntui.procs.gpus import MEMORY_FRACTION_VARS, SHARED_MEMORY_FRACTION
from bntui.procs.ray_cell import Call, cpu_cell, gpu_cell
from bntui.procs.raycluster import Cluster
from bntui.procs.scheduler import Event, Executor, Failed, Finished, Job, Progressed
from bntui.procs.supervisor import worker_env

# A job whose worker or node dies runs again up to this many times before it counts as
# failed.
RETRIES = 3
# Two cells share a GPU (their small MLPs leave it mostly idle between steps).
GPU_SHARE = 0.5


def cell_env(gpu: bool) -> dict[str, str]:
    """The environment of a cell's Ray worker, set explicitly (a node's own environment may
    say otherwise): the backend, one XLA thread, and its device."""
    env = worker_env(ExperimentSpec(), 1)
    own = ("KERAS_", "TF_", "XLA_", "JAX_", "OMP_", "PYTHONUNBUFFERED")
    chosen = {k: v for k, v in env.items() if k.startswith(own)}
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        chosen.pop("JAX_COMPILATION_CACHE_DIR", None)  # the node's own cache folder
    if not gpu:
        # Ray no longer hides the GPUs from CPU tasks: a CPU cell must not touch one.
        return {**chosen, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    chosen |= {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    if not any(name in os.environ for name in MEMORY_FRACTION_VARS):
        chosen["XLA_PYTHON_CLIENT_MEM_FRACTION"] = SHARED_MEMORY_FRACTION
    return chosen


@dataclass
class _Live:
    """A job on the cluster: its task's generator, when it started, how many times."""

    job: Job
    generator: Any
    began: float
    runs: int = 1


class RayExecutor(Executor):
    """Jobs as Ray tasks on `cluster`; `call(job, progress)` runs each (pickled by reference:
    a module-level function of a module every node can import).

    A task whose worker or node dies is submitted again (up to RETRIES times) by the
    executor itself, not by Ray's `max_retries`: Ray's retry of a generator task drops the
    new attempt's first items (as many as the old one yielded), and with them, after
    fewer progress items, the result.
    """

    def __init__(self, call: Call, cluster: Cluster, pin_cores: bool | None = None) -> None:
        import ray

        self.call, self.cluster = call, cluster
        # As the local executor: BNTUI_PIN_CORES=0 turns pinning off.
        self.pin = os.environ.get("BNTUI_PIN_CORES") != "0" if pin_cores is None else pin_cores
        # Two remote functions: a GPU one's worker serves one task and exits (Ray's default
        # for a function declared with GPUs), so that none holds on to a GPU it is no
        # longer lent; the two kinds keep their own workers (their environments differ).
        self._tasks = {
            gpu: ray.remote(
                max_retries=0,
                num_cpus=1,
                num_gpus=GPU_SHARE if gpu else 0,
                runtime_env={"env_vars": cell_env(gpu)},
            )(function)
            for gpu, function in ((False, cpu_cell), (True, gpu_cell))
        }
        self.live: dict[str, _Live] = {}
        self.placed: dict[str, dict[str, Any]] = {}  # job → where its last run started
        self.progress: dict[str, float] = {}
        self.timing_node: str | None = None
        self.stopped = False
        self._lock = threading.Lock()
        self.capacity = self._capacity()

    def _capacity(self) -> int:
        """Jobs at once: two a GPU where the cluster has GPUs, else one a CPU (read again as
        nodes join or leave; at least one, so the scheduler waits for nodes to come)."""
        found = self.cluster.resources()
        gpus = found.get("GPU", 0)
        return max(1, int(gpus / GPU_SHARE) if gpus else int(found.get("CPU", 0)))

    def start(self, job: Job) -> None:
        """Submit `job` as a task (a GPU task where the cluster has GPUs)."""
        with self._lock:
            self.live[job.id] = _Live(job, self._submit(job), time.monotonic())

    def _submit(self, job: Job) -> Any:
        gpu = bool(self.cluster.resources().get("GPU"))
        task = self._tasks[gpu]
        if job.exclusive:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            # Timed jobs on one node, so that what they compare ran on the same hardware;
            # soft: if that node dies, the job runs again on another (the file says where).
            node = self._timing_node("GPU" if gpu else "CPU")
            task = task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True))
        return task.remote(self.call, job, self.pin and not gpu)

    def _timing_node(self, resource: str) -> str:
        import ray

        nodes = [n for n in self.cluster.alive_nodes() if n["Resources"].get(resource)]
        ids = [n["NodeID"] for n in nodes]
        node = self.timing_node
        if node is None or node not in ids:
            own = ray.get_runtime_context().get_node_id()
            node = self.timing_node = own if own in ids else (ids[0] if ids else own)
        return node

    def events(self, timeout: float) -> list[Event]:
        """Progress and ends of the live tasks, waiting up to `timeout` s for one."""
        import ray

        self.capacity = self._capacity()
        found: list[Event] = []
        deadline = time.monotonic() + timeout
        while not found:
            with self._lock:
                if self.stopped or not self.live:
                    return found
                jobs = {id(live.generator): job for job, live in self.live.items()}
                waiting = [live.generator for live in self.live.values()]
                ready, _ = ray.wait(waiting, num_returns=1, timeout=0.1)
                if ready:
                    ready, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
                for generator in ready:
                    found += self._next(self.live[jobs[id(generator)]])
            if time.monotonic() >= deadline:
                break
        return found

    def _next(self, live: _Live) -> list[Event]:
        import ray

        job = live.job.id
        took = time.monotonic() - live.began
        try:
            kind, value, *where = ray.get(next(live.generator))
        except StopIteration:
            del self.live[job]
            return [Failed(job, "its Ray task ended without a result", took)]
        except ray.exceptions.RayError as exc:
            if live.runs <= RETRIES:  # its worker or node died: run it again
                live.generator, live.runs = self._submit(live.job), live.runs + 1
                return []
            del self.live[job]
            return [Failed(job, _task_death(exc), took, self._where(job, None, live))]
        if kind == "started":
            self.placed[job] = value
            return []
        if kind == "progress":
            # A job run again starts over; its bar does not go back.
            fraction = max(float(value), self.progress.get(job, 0.0))
            self.progress[job] = fraction
            return [Progressed(job, fraction)]
        del self.live[job]
        placed = self._where(job, where[0] if where else None, live)
        if kind == "ok":
            return [Finished(job, value, took, placed)]
        return [Failed(job, str(value), took, placed)]

    def _where(self, job: str, said: dict[str, Any] | None, live: _Live) -> dict[str, Any]:
        """Where the job's last run was, and how many runs it took."""
        return {**(said or self.placed.get(job, {})), "runs": live.runs}

    def stop(self) -> None:
        """Cancel every live task now (their workers are killed). Safe to call twice, from
        any thread; the cluster stays up until its owner closes it."""
        import ray

        with self._lock:
            if self.stopped:
                return
            self.stopped = True
            for live in self.live.values():
                try:
                    ray.cancel(live.generator, force=True)
                except Exception:  # already ended, or its node is gone: nothing to cancel
                    pass
            self.live.clear()


def _task_death(exc: Exception) -> str:
    """Ray's error for a task that could not finish (its worker or node died, more often
    than it may run again) as one line."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return (
        f"its Ray worker died (killed, out of memory, or its node left), and so did its "
        f"{RETRIES} reruns: {type(exc).__name__}: {first[:200]}"
    )
