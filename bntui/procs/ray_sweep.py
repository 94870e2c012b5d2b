"""A sweep's pair on a Ray cluster (`bntui sweep --executor ray`): each model's worker, the
unchanged `python -m bntui.training`, runs inside a Ray task on some node and its event
lines stream back to the supervisor as they are written, so the dashboard shows them live.

`RaySupervisor` is the local `Supervisor` with the worker processes replaced by `RemoteWorker`s,
which look to it like processes (lines on stdout and stderr, an exit status, stop by closing
stdin); it reads, merges and reports their events exactly as it does locally.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from bntui.core.spec import MODEL_KEYS, ExperimentSpec
from bntui.procs.gpus import plan_devices, slot_job, worker_gpu_env
from bntui.procs.ray_executor import GPU_SHARE
from bntui.procs.raycluster import Cluster
from bntui.procs.supervisor import STDERR_TAIL_LINES, Supervisor, worker_command, worker_env
from bntui.procs.system import GpuMonitor

# Lines are sent in batches, at most this often (a worker writes hundreds a second).
BATCH_S = 0.1


class RemoteWorker:
    """A Ray task running one model's worker, seen as a process: `stdout` and `stderr`
    iterate its lines, `wait()` gives its exit status (negative: killed by that signal)."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.returncode: int | None = None
        self._ended = threading.Event()
        self._stderr: queue.Queue[bytes | None] = queue.Queue()
        self.stdin = self  # closing it stops the worker, as closing a real worker's stdin
        self.stdout = self._lines()
        self.stderr = iter(self._stderr.get, None)

    def _lines(self) -> Iterator[bytes]:
        import ray

        try:
            for ref in self.generator:
                kind, value = ray.get(ref)
                if kind == "exit":
                    self.returncode = int(value)
                elif kind == "err":
                    for line in value:
                        self._stderr.put(line)
                else:
                    yield from value
        except ray.exceptions.TaskCancelledError:
            self.returncode = -signal.SIGTERM
        except ray.exceptions.RayError as exc:
            self._stderr.put(f"its Ray task died: {type(exc).__name__}".encode())
            self.returncode = -signal.SIGKILL
        finally:
            if self.returncode is None:
                self.returncode = -signal.SIGKILL
            self._stderr.put(None)
            self._ended.set()

    def poll(self) -> int | None:
        """The exit status once the worker has ended, else None."""
        return self.returncode if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the worker to end; subprocess.TimeoutExpired after `timeout` s."""
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired("ray task", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def close(self) -> None:
        """Ask the task to stop: it closes its worker's stdin, and the worker exits."""
        self._cancel(force=False)

    def terminate(self) -> None:
        """As `close`."""
        self._cancel(force=False)

    def kill(self) -> None:
        """Kill the task's Ray worker (its model's worker then exits on its own)."""
        self._cancel(force=True)

    def _cancel(self, force: bool) -> None:
        import ray

        try:
            ray.cancel(self.generator, force=force)
        except Exception:  # ended already, or its node is gone
            pass


class RaySupervisor(Supervisor):
    """The plain and BN workers as Ray tasks (half a GPU each where the cluster has GPUs,
    else `threads` CPUs each), their events merged into one stream."""

    def __init__(
        self, spec: ExperimentSpec, threads: int | None = None, *, cluster: Cluster
    ) -> None:
        self.cluster = cluster
        super().__init__(spec, threads or _node_share(cluster))

    def start(self, waiting: Supervisor | None = None) -> None:
        """Submit both workers' tasks; events start flowing as they run. Local workers
        `waiting` for a job have no part in a cluster's run: they are stopped."""
        import ray

        if waiting is not None:
            waiting.stop(grace=0)

        gpu = bool(self.cluster.resources().get("GPU"))
        # The worker's environment is made on its node, by the task (as `Supervisor` does
        # here): the node's own paths, and the GPU Ray lends the task.
        task = ray.remote(_model_task).options(
            num_cpus=self.threads, num_gpus=GPU_SHARE if gpu else 0, max_retries=0
        )
        for key in MODEL_KEYS:
            worker = RemoteWorker(
                task.remote(self.spec.to_dict(), key, self.started, self.threads, gpu)
            )
            self.procs[key] = worker  # type: ignore[assignment]
            self.stderr_tails[key] = deque(maxlen=STDERR_TAIL_LINES)
            self._open += 1
            threading.Thread(target=self._read_events, args=(key, worker), daemon=True).start()
            threading.Thread(target=self._read_stderr, args=(key, worker), daemon=True).start()

    @property
    def pids(self) -> list[int]:
        """None here: the workers run on the cluster's nodes."""
        return []


def _node_share(cluster: Cluster) -> int:
    """Threads a model gets without --threads: half the smallest node's CPUs."""
    cpus = [n["Resources"].get("CPU", 0) for n in cluster.alive_nodes()]
    return max(1, int(min((c for c in cpus if c), default=2)) // 2)


def _model_task(
    spec: dict[str, Any], key: str, started: float, threads: int, gpu: bool
) -> Iterator[tuple[str, Any]]:
    """A Ray generator task: run one model's worker on this node, as the local supervisor
    does, and stream ("out", lines), ("err", lines), then ("exit", status)."""
    env = worker_env(ExperimentSpec.from_dict(spec), threads)
    monitor = GpuMonitor()
    cards = monitor.cards() if monitor.nvml else None
    # Ray shows a GPU task its GPU only (CUDA_VISIBLE_DEVICES); a CPU task none at all.
    plan = plan_devices(os.environ.get("CUDA_VISIBLE_DEVICES"), cards, None if gpu else "cpu")
    placement = {**slot_job(plan, key), "nvidia_driver": monitor.driver_version()}
    job = {"spec": spec, "model": key, "started": started, "cores": None, "placement": placement}
    process = subprocess.Popen(
        worker_command(json.dumps(job)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=worker_gpu_env(plan, key, env),
    )
    lines: queue.Queue[tuple[str, bytes | None]] = queue.Queue()
    for kind, stream in (("out", process.stdout), ("err", process.stderr)):
        threading.Thread(target=_pump, args=(kind, stream, lines), daemon=True).start()
    try:
        open_streams = 2
        while open_streams:
            batch: dict[str, list[bytes]] = {"out": [], "err": []}
            kind, line = lines.get()
            until = time.monotonic() + BATCH_S
            while True:
                if line is None:
                    open_streams -= 1
                else:
                    batch[kind].append(line)
                try:
                    kind, line = lines.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
            for kind in ("err", "out"):
                if batch[kind]:
                    yield (kind, batch[kind])
        yield ("exit", process.wait())
    finally:  # cancelled: the worker exits when its stdin closes
        if process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()


def _pump(kind: str, stream: Any, lines: queue.Queue[tuple[str, bytes | None]]) -> None:
    for line in stream:
        lines.put((kind, line))
    lines.put((kind, None))
