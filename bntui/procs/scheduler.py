"""Run independent jobs concurrently and report what happens to them as events.

The interface is small on purpose, so that another executor (a cluster, a remote GPU box)
can be plugged in: an `Executor` starts a job, says how many it runs at once, and hands
back events; `Scheduler` decides what starts when (largest first, an `exclusive` job alone)
and yields `Started`, `Progressed`, `Finished` and `Failed` in the order they happen.

`ProcessExecutor` runs jobs in worker processes, one per core (one per GPU when GPUs are
present), each started once and reused. It never imports Keras itself.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import resource_tracker
from typing import Any, Protocol


class Job(Protocol):
    """What the scheduler needs of a job."""

    @property
    def id(self) -> str: ...

    @property
    def exclusive(self) -> bool: ...

    @property
    def work(self) -> float: ...


@dataclass(frozen=True)
class Started:
    """A job began."""

    job: str


@dataclass(frozen=True)
class Progressed:
    """A job is `fraction` of the way through."""

    job: str
    fraction: float


@dataclass(frozen=True)
class Finished:
    """A job ended with a result; `where` says where it ran, when the executor knows."""

    job: str
    result: Any
    seconds: float
    where: dict[str, Any] | None = None


@dataclass(frozen=True)
class Failed:
    """A job raised, or its worker died; `error` says what happened, in one line."""

    job: str
    error: str
    seconds: float
    where: dict[str, Any] | None = None


Event = Started | Progressed | Finished | Failed


class Executor(ABC):
    """Runs jobs somewhere; the scheduler only asks for these."""

    capacity: int  # jobs it runs at once

    @abstractmethod
    def start(self, job: Job) -> None:
        """Begin `job` (the executor knows how to run it)."""

    @abstractmethod
    def events(self, timeout: float) -> list[Event]:
        """What happened since the last call, waiting up to `timeout` s for something."""

    @abstractmethod
    def stop(self) -> None:
        """Stop every running job now and release the workers."""


class Scheduler:
    """Feeds jobs to an executor: largest first, exclusive jobs alone, all to the end."""

    def __init__(self, jobs: list[Job], executor: Executor) -> None:
        exclusive = [j for j in jobs if j.exclusive]
        shared = sorted((j for j in jobs if not j.exclusive), key=lambda j: -j.work)
        self.waiting = shared + exclusive  # exclusive (timed) jobs last, on a quiet machine
        self.executor = executor
        self.running: dict[str, Job] = {}
        self.stopped = False

    def _start_what_fits(self) -> list[Event]:
        started: list[Event] = []
        while self.waiting and not self.stopped:
            job = self.waiting[0]
            busy_exclusive = any(j.exclusive for j in self.running.values())
            if busy_exclusive or len(self.running) >= self.executor.capacity:
                break
            if job.exclusive and self.running:
                break
            self.waiting.pop(0)
            self.running[job.id] = job
            self.executor.start(job)
            started.append(Started(job.id))
        return started

    def run(self) -> Iterator[Event]:
        """Yield every job's events until all have finished or failed (or `stop`)."""
        yield from self._start_what_fits()
        while self.running and not self.stopped:
            for event in self.executor.events(timeout=0.5):
                if isinstance(event, Finished | Failed):
                    self.running.pop(event.job, None)
                yield event
            yield from self._start_what_fits()

    def stop(self) -> None:
        """Start nothing more and stop what runs (its jobs are not reported)."""
        self.stopped = True
        self.executor.stop()


class _Counter(Protocol):
    value: int

    def get_lock(self) -> Any: ...


_PROGRESS: Any = None


def _init_worker(slots: list[dict[str, str]], counter: _Counter, progress: Any) -> None:
    """Set a new worker's environment (threads, its core or GPU) before anything imports
    a backend."""
    global _PROGRESS
    # Ctrl-C reaches the whole process group: the parent decides what stops, and how.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    slot = slots[index % len(slots)]
    # Keys starting with "_" are for this function; the rest is the environment.
    os.environ.update({k: v for k, v in slot.items() if not k.startswith("_")})
    cores = slot.get("_cores", "")
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in cores.split(",")})
    _PROGRESS = progress
    if slot.get("_quiet_stderr") == "1":
        # Backends log on stderr at start (absl, oneDNN): on a dashboard's terminal that is
        # noise over the screen. A job's errors come back as its result, not on stderr.
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)


def _run(call: Callable[[Any, Callable[[float], None]], Any], job: Any) -> Any:
    """In a worker: run `call(job, progress)`; a raise becomes a one-line error."""
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.25 and _PROGRESS is not None:
            last[0] = now
            _PROGRESS.put((job.id, fraction))

    try:
        return ("ok", call(job, progress))
    except Exception as exc:  # the job failed; the worker lives on for the next one
        return ("error", error_line(exc))


def error_line(exc: BaseException) -> str:
    """A job's exception as one line: its type, message, and the file and line it came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    said = f"{type(exc).__name__}: {exc}"
    return (
        f"{said} ({os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else said
    )


class ProcessExecutor(Executor):
    """Jobs in worker processes (spawned, reused); `call(job, progress)` runs each.

    `slots` holds one environment per worker: its thread flags and its core (`_cores`) or
    its GPU (`CUDA_VISIBLE_DEVICES`); `_quiet_stderr: "1"` sends its stderr to /dev/null.
    A worker that dies fails its job; the pool is restarted for the jobs after it.
    """

    def __init__(
        self, call: Callable[[Any, Callable[[float], None]], Any], slots: list[dict[str, str]]
    ) -> None:
        self.call, self.slots, self.capacity = call, slots, len(slots)
        # Started here, in the caller's thread, with the real stderr: a worker spawned later
        # from a UI thread would hand the tracker Textual's stand-in stderr (descriptor -1).
        resource_tracker.ensure_running()
        self.context = multiprocessing.get_context("spawn")
        self.progress: Any = self.context.Queue()
        self.pool = self._pool()
        self.futures: dict[str, tuple[Future[Any], float]] = {}

    def _pool(self) -> ProcessPoolExecutor:
        counter = self.context.Value("i", 0)
        return ProcessPoolExecutor(
            self.capacity,
            mp_context=self.context,
            initializer=_init_worker,
            initargs=(self.slots, counter, self.progress),
        )

    def start(self, job: Job) -> None:
        """Submit `job` to the pool."""
        self.futures[job.id] = (self.pool.submit(_run, self.call, job), time.monotonic())

    def events(self, timeout: float) -> list[Event]:
        """Progress from the workers, then any job that ended."""
        found: list[Event] = []
        deadline = time.monotonic() + timeout
        while not found:
            try:
                job, fraction = self.progress.get(timeout=0.05)
                found.append(Progressed(job, float(fraction)))
            except queue.Empty:
                pass
            found += self._ended()
            if time.monotonic() >= deadline:
                break
        return found

    def _ended(self) -> list[Event]:
        ended: list[Event] = []
        broken = False
        for job, (future, began) in list(self.futures.items()):
            if not future.done():
                continue
            del self.futures[job]
            took = time.monotonic() - began
            try:
                kind, value = future.result()
            except BrokenProcessPool:
                broken = True
                ended.append(
                    Failed(job, "its worker process died (killed, or out of memory)", took)
                )
                continue
            ended.append(Finished(job, value, took) if kind == "ok" else Failed(job, value, took))
        if broken:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._pool()
        return ended

    def stop(self) -> None:
        """Kill the workers (their jobs are abandoned) and release the pool."""
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()
        for process in processes:
            process.join(timeout=5)
        self.futures.clear()
