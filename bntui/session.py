"""Sessions: one event stream, two sources. A live run or a replay, seen the same way.

Both apply every event to a `RunRecorder` before handing it on, so whoever consumes the
stream (dashboard or headless printer) reads the same state. Neither imports Textual or
Keras.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from bntui.compare import RunSet
from bntui.events import Event
from bntui.recorder import RunRecorder, empty_like
from bntui.replay import ReplaySource, events_from_run
from bntui.runfile import Document, RunFile, save_run
from bntui.spec import ExperimentSpec
from bntui.supervisor import Supervisor
from bntui.sweep import SweepFile, runset_of


class Session:
    """Common face of live and replayed runs."""

    live = False

    def __init__(self, recorders: list[RunRecorder]) -> None:
        # One recorder per run: a single run has one, a sweep one per batch size.
        self.recorders = recorders
        self.recorder = recorders[0]
        self.finished = threading.Event()
        # Held while an event is recorded, the run is saved, or the UI reads the record.
        self.lock = threading.RLock()

    @property
    def run(self) -> RunFile:
        """The run as recorded so far."""
        return self.recorder.run

    @property
    def path(self) -> Path | None:
        """The file this session shows: the run file being written, or the one replayed."""
        return None

    def _source(self) -> Iterator[Event]:
        raise NotImplementedError

    def start(self) -> None:
        """Begin producing events."""

    def events(self) -> Iterator[Event]:
        """Yield each event after recording it; sets `finished` when the stream ends."""
        try:
            for event in self._source():
                with self.lock:
                    self.record(event)
                yield event
        finally:
            self.finished.set()

    def record(self, event: Event) -> None:
        """Apply the event to its run's record (called with the lock held); that run becomes
        the one on show."""
        if 0 <= event.run < len(self.recorders):
            self.recorder = self.recorders[event.run]
            self.recorder.apply(event)

    @property
    def sweep(self) -> SweepFile | None:
        """The whole sweep, for sweep sessions (the run on show is `run`)."""
        return None

    @property
    def runset(self) -> RunSet | None:
        """Runs shown together (a sweep's, or a comparison's); None for a single run."""
        sweep = self.sweep
        return runset_of(sweep) if sweep is not None else None

    def stop(self) -> None:
        """Stop producing events (a live run's workers are stopped)."""

    def skip_to_end(self) -> None:
        """Replay only: deliver the rest at once."""


class LiveSession(Session):
    """Trains the pair in worker processes and saves the run file at the end."""

    live = True

    def __init__(self, spec: ExperimentSpec, out: Path, threads: int | None = None) -> None:
        super().__init__([RunRecorder(spec)])
        self.out = out
        self.supervisor = Supervisor(spec, threads=threads)
        self.saved_path: Path | None = None
        self.interrupted = False

    @property
    def path(self) -> Path:
        """Where the run is (or will be) saved."""
        return self.saved_path or self.out

    def start(self) -> None:
        """Spawn the workers."""
        self.supervisor.start()

    def _source(self) -> Iterator[Event]:
        return self.supervisor.events(timeout=0.2)

    def stop(self) -> None:
        """Interrupt: stop the workers; what they sent so far stays recorded."""
        self.interrupted = True
        self.supervisor.stop()

    def halt(self) -> None:
        """From a signal handler: end the stream soon (flags only, no locks)."""
        self.supervisor.halted = True

    @property
    def status(self) -> str:
        """The saved document's status (completed, interrupted, failed, running)."""
        return self.run.status

    def _finish(self) -> Document:
        self.recorder.finish("interrupted" if self.interrupted else None)
        return self.run

    def save(self, final: bool = True) -> tuple[Path, str | None]:
        """Write the run file (a snapshot while running, the final record at the end).

        Returns the path written and a warning when a fallback path had to be used.
        """
        with self.lock:
            document = self._finish() if final else self.sweep or self.run
            target = self.saved_path or self.out
            path, warning = save_run(document, target, overwrite=self.saved_path is not None)
            self.saved_path = path
            return path, warning


class SweepSession(LiveSession):
    """Trains the pair once per batch size, one pair after the other, into one sweep file."""

    def __init__(
        self, specs: list[ExperimentSpec], target: float, out: Path, threads: int | None = None
    ) -> None:
        super().__init__(specs[0], out, threads)
        self.specs = specs
        self.threads = threads
        self.recorders = [RunRecorder(spec) for spec in specs]
        self.recorder = self.recorders[0]
        self._sweep = SweepFile(
            started_at=self.recorder.run.started_at,
            target_accuracy=target,
            batch_sizes=[spec.batch_size for spec in specs],
            runs=[r.run for r in self.recorders],
        )
        self.halted = False

    @property
    def sweep(self) -> SweepFile:
        """The sweep as recorded so far."""
        return self._sweep

    @property
    def status(self) -> str:
        """The sweep's status."""
        return self._sweep.status

    def start(self) -> None:
        """Nothing yet: each pair's workers start when the stream reaches it."""

    def _source(self) -> Iterator[Event]:
        for i, spec in enumerate(self.specs):
            if self.interrupted or self.halted:
                return
            self.supervisor = Supervisor(spec, threads=self.threads)
            self.supervisor.start()
            if self.interrupted or self.halted:  # stopped while this pair was starting
                self.supervisor.stop()
                return
            for event in self.supervisor.events(timeout=0.2):
                event.run = i
                yield event
            self.supervisor.stop()

    def halt(self) -> None:
        """From a signal handler: end this pair's stream and start no other."""
        self.halted = True
        self.supervisor.halted = True

    def _finish(self) -> Document:
        for recorder in self.recorders:
            recorder.finish("interrupted" if self.interrupted or self.halted else None)
        statuses = {r.run.status for r in self.recorders}
        status = "completed"
        if "failed" in statuses:
            status = "failed"
        if self.interrupted or self.halted or "interrupted" in statuses:
            status = "interrupted"
        self._sweep.status = status  # type: ignore[assignment]
        return self._sweep


class ReplaySession(Session):
    """Re-enacts a saved run at its recorded pace (times `speed`)."""

    def __init__(self, run: RunFile, speed: float = 1.0, path: Path | None = None) -> None:
        self._replay_runs([run], speed)
        self.source = path

    @property
    def path(self) -> Path | None:
        """The file being replayed."""
        return self.source

    def _replay_runs(self, runs: list[RunFile], speed: float) -> None:
        """Replay `runs` one after the other, on one clock, each into its own record."""
        super().__init__([RunRecorder(run.spec, empty_like(run)) for run in runs])
        events: list[Event] = []
        offset = 0.0
        for i, run in enumerate(runs):
            run_events = events_from_run(run)
            for event in run_events:
                event.run = i
                event.t += offset
            offset = max([offset, *(e.t for e in run_events)])
            events.extend(run_events)
        self.replay = ReplaySource(events, speed)

    def _source(self) -> Iterator[Event]:
        return iter(self.replay)

    def stop(self) -> None:
        """Stop the replay."""
        self.replay.stop()

    def skip_to_end(self) -> None:
        """Jump to the end of the recording."""
        self.replay.skip_to_end()


class SweepReplaySession(ReplaySession):
    """Re-enacts a saved sweep: each batch size's pair in turn, at the recorded pace."""

    def __init__(self, sweep: SweepFile, speed: float = 1.0, path: Path | None = None) -> None:
        self._replay_runs(sweep.runs, speed)
        self.source = path
        self._sweep = sweep.model_copy(update={"runs": [r.run for r in self.recorders]})

    @property
    def sweep(self) -> SweepFile:
        """The sweep as re-enacted so far."""
        return self._sweep


class CompareSession(ReplaySession):
    """Saved runs side by side: the first is shown in full at once, all in the Compare tab."""

    def __init__(self, runs: list[RunFile], labels: list[str], names: list[str]) -> None:
        super().__init__(runs[0], speed=1.0)
        self.replay.skip_to_end()
        self._runset = RunSet("compare", labels, runs, names=names)

    @property
    def runset(self) -> RunSet:
        """The runs being compared."""
        return self._runset
