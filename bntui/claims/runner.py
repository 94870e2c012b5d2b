"""Run a battery live: schedule its missing cells on the workers, record each result in the
claims file as it lands (saved atomically every time, so an interruption loses only the
cells in flight), and yield the events the Claims tab and the headless lines show.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bntui.claims.cells import CellSpec
from bntui.claims.claimfile import CellResult, ClaimsFile, VerdictRecord
from bntui.claims.eta import Eta
from bntui.claims.events import BatteryEnded, CellEnded, CellProgress, CellStarted, ClaimsEvent
from bntui.claims.measures import measures
from bntui.core.spec import ExperimentSpec
from bntui.core.text import clean
from bntui.procs.gpus import visible_cards
from bntui.procs.scheduler import Executor, Failed, Finished, ProcessExecutor, Progressed, Scheduler
from bntui.procs.supervisor import worker_cores, worker_env
from bntui.procs.system import GpuMonitor
from bntui.record.files import save_run


@dataclass(frozen=True)
class CellJob:
    """A cell as the scheduler sees it."""

    spec: CellSpec

    @property
    def id(self) -> str:
        """The cell's id."""
        return self.spec.id

    @property
    def exclusive(self) -> bool:
        """Timed cells run alone, on a quiet machine."""
        return self.spec.timed

    @property
    def work(self) -> float:
        """Estimated cost, to start the largest first."""
        return self.spec.work()


def train_cell(job: CellJob, progress: Callable[[float], None]) -> list[dict[str, Any]]:
    """In a worker process: train the cell and return its results."""
    # The worker side (Keras, JAX): imported in the worker process only, never here.
    from bntui.training.common import skip_unused_imports

    skip_unused_imports()
    from bntui.claims.worker.cellrun import run_cell

    return run_cell(job.spec, progress)


def worker_slots() -> list[dict[str, str]]:
    """One environment per worker: two per GPU when NVML sees GPUs bntui may use, else one
    per core (each pinned to its core, one XLA thread)."""
    monitor = GpuMonitor()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    cards = visible_cards(visible, monitor.cards()) if monitor.nvml else []
    env = worker_env(ExperimentSpec(), 1)
    base = {k: v for k, v in env.items() if os.environ.get(k) != v} | {"_quiet_stderr": "1"}
    if cards:
        # Two workers a GPU: a cell's small MLP leaves a GPU mostly idle between steps. They
        # share its memory, so neither may take most of it up front (JAX's default).
        shared = {**base, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
        return [{**shared, "CUDA_VISIBLE_DEVICES": card.uuid} for card in cards for _ in (0, 1)]
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    cores = worker_cores(1, count) or [[]] * count
    return [{**base, "CUDA_VISIBLE_DEVICES": "", "_cores": ",".join(map(str, c))} for c in cores]


def now_text() -> str:
    """The time, as the file records it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def settle(claims: ClaimsFile) -> None:
    """Write the verdicts of the finished claims into the file, for readers without bntui."""
    records = []
    for found in measures(claims):
        if found.verdict is None:
            continue
        i = found.interval
        records.append(
            VerdictRecord(
                claim=found.claim,
                verdict=found.verdict,
                mean=None if i is None else i.mean,
                low=None if i is None else i.low,
                high=None if i is None else i.high,
                n=0 if i is None else i.n,
            )
        )
    claims.verdicts = records


class BatteryRun:
    """A claims file being filled in by training its missing cells; it ends through a
    `bntui.session.lifecycle.Lifecycle` like a run (halt, stop, close, save)."""

    what = "claims file"  # for the closing lines

    def __init__(self, claims: ClaimsFile, out: Path, executor: Executor | None = None) -> None:
        self.claims, self.out = claims, out
        self.todo = [c for c in claims.plan() if c.id not in claims.done()]
        self._executor = executor
        # Asked once (NVML, cores): the count for the header, the slots for the workers.
        self.slots = [] if executor else worker_slots()
        self.workers = executor.capacity if executor else len(self.slots)
        self.claims.workers = self.workers
        self.eta = Eta(claims.plan(), self.workers, set(claims.done()))
        self.scheduler: Scheduler | None = None
        self.started = time.monotonic()
        self.began: dict[str, float] = {}
        self.saved_to: Path = out
        self.notice: str | None = None
        # Once stopped, nothing more is recorded: the final save is the last word. The lock
        # keeps the reader's record-and-save and a stop from another thread from interleaving.
        # A plain flag: a signal handler may set it without taking the lock.
        self.stopped = False
        self._lock = threading.RLock()

    @property
    def status(self) -> str:
        """The claims file's status (running, completed, interrupted, failed)."""
        return self.claims.status

    def save(self) -> tuple[Path, str | None]:
        """Write the claims file as it stands (atomically; a fallback path if needed); return
        where it went and, if not where asked, why."""
        with self._lock:
            settle(self.claims)
            path, notice = save_run(self.claims, self.out, overwrite=True)
            self.saved_to, self.notice = path, notice or self.notice
            self.out = path
            return path, self.notice

    def events(self) -> Iterator[ClaimsEvent]:
        """Train every missing cell and yield what happens, ending with BatteryEnded (none
        when it was stopped: whoever stopped it saves it)."""
        self.claims.status = "running"
        self.claims.started = self.claims.started or now_text()
        self.save()
        executor = self._executor or ProcessExecutor(train_cell, self.slots)
        self.scheduler = Scheduler([CellJob(c) for c in self.todo], executor)
        if self.stopped:  # halted before the scheduler existed
            self.scheduler.stopped = True
        try:
            for event in self.scheduler.run():
                if self.stopped:
                    break
                t = time.monotonic() - self.started
                if isinstance(event, Progressed):
                    self.eta.progress(event.job, event.fraction)
                    yield CellProgress(event.job, event.fraction, t)
                elif isinstance(event, Finished | Failed):
                    ended = self._ended(event, t)
                    if ended is None:
                        break
                    yield ended
                else:
                    self.began[event.job] = t
                    yield CellStarted(event.job, t)
        finally:
            executor.stop()
        if self.stopped:
            return
        failed = any(c.status == "failed" for c in self.claims.cells)
        yield self.finish("failed" if failed else "completed")

    def _ended(self, event: Finished | Failed, t: float) -> CellEnded | None:
        with self._lock:
            if self.stopped:  # a cell the stop killed: not a failure of the cell
                return None
            return self._record(event, t)

    def _record(self, event: Finished | Failed, t: float) -> CellEnded:
        spec = next(c for c in self.todo if c.id == event.job)
        ok = isinstance(event, Finished)
        result = CellResult(
            spec=spec.to_dict(),
            status="done" if ok else "failed",
            error=None if ok else event.error,  # type: ignore[union-attr]
            began=round(self.began.get(event.job, 0.0), 3),
            seconds=round(event.seconds, 3),
            results=event.result if ok else [],  # type: ignore[union-attr]
            where=event.where,  # type: ignore[arg-type]
        )
        self.claims.record(result)
        self.eta.ended(event.job, event.seconds, ok)
        self.save()
        return CellEnded(result, t)

    def halt(self) -> None:
        """From a signal handler: record nothing more, start no cell, end the stream within
        the scheduler's next look (only sets flags)."""
        self.stopped = True
        if self.scheduler is not None:
            self.scheduler.stopped = True

    def stop(self) -> None:
        """Stop the workers now (from any thread); unless it had ended, the battery is
        interrupted. What finished stays recorded; `save` writes it."""
        with self._lock:
            if self.claims.status == "running":
                self.claims.status = "interrupted"
                self.claims.finished = now_text()
            self.halt()
        if self.scheduler is not None:
            self.scheduler.stop()

    def close(self) -> None:
        """After the stream: release the workers; a battery that never ended (its reader
        went away) is interrupted."""
        self.stop()

    def resume_line(self) -> str | None:
        """How to train the rest of an interrupted battery; None unless interrupted."""
        if self.claims.status != "interrupted":
            return None
        return f"bntui: resume with: bntui claims --resume {clean(str(self.saved_to))}"

    def finish(self, status: str) -> BatteryEnded:
        """Mark the battery `status`, save it, and say so."""
        self.claims.status = status  # type: ignore[assignment]
        self.claims.finished = now_text()
        self.save()
        return BatteryEnded(
            status, str(self.saved_to), self.notice, time.monotonic() - self.started
        )
