"""Sessions: one event stream, two sources. A live run or a replay, seen the same way.

A session yields events and records each one (a `RunRecorder` per run: one for a single
run, one per batch size for a sweep) before handing it on, so that what it saves is what was
shown. It knows nothing of how events are shown: the dashboard and the headless printer are
its consumers. Each session states what it can do (`live`, `can_save`, `can_skip`,
`speed`) so that they never need to ask which kind it is. No Textual, no Keras.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

from bntui.core.events import Event
from bntui.core.spec import ExperimentSpec
from bntui.procs.supervisor import Supervisor, start_pair
from bntui.record.files import Document, save_run
from bntui.record.recorder import RunRecorder, empty_like
from bntui.record.replay import ReplaySource, events_from_run
from bntui.record.runfile import RunFile
from bntui.record.sweep import SweepFile
from bntui.stats.compare import RunSet
from bntui.stats.figures import trained_nothing


class Session:
    """Common face of live and replayed sessions."""

    live: ClassVar[bool] = False  # trains now (its workers can be stopped; its file grows)
    can_save: ClassVar[bool] = False  # `save()` writes a snapshot while it runs
    can_skip: ClassVar[bool] = False  # `skip_to_end()` delivers the rest at once
    # "sweep" or "compare": several runs shown together; None for a single run.
    runs_kind: ClassVar[str | None] = None

    def __init__(self, recorders: list[RunRecorder]) -> None:
        self.recorders = recorders
        self.finished = threading.Event()
        # Held while an event is recorded or the file saved.
        self.lock = threading.RLock()

    @property
    def run(self) -> RunFile:
        """The first run as recorded so far (the only one, except in a sweep)."""
        return self.recorders[0].run

    @property
    def templates(self) -> list[RunFile]:
        """Each run as it stands before the first event: spec and start time, no records."""
        return [empty_like(recorder.run) for recorder in self.recorders]

    @property
    def speed(self) -> float | None:
        """Replay speed (×1 = the recorded pace); None for a live session."""
        return None

    @property
    def path(self) -> Path | None:
        """The file this session shows: the run file being written, or the one replayed."""
        return None

    @property
    def runset(self) -> RunSet | None:
        """Runs that stay the same while shown together (a comparison's); None otherwise."""
        return None

    @property
    def target(self) -> float | None:
        """A sweep's target validation accuracy (its table's "epochs to reach"); else None."""
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
                    if 0 <= event.run_index < len(self.recorders):
                        self.recorders[event.run_index].apply(event)
                yield event
        finally:
            self.finished.set()

    def stop(self) -> None:
        """Stop producing events (a live session's workers are stopped, its run interrupted)."""

    def skip_to_end(self) -> None:
        """Deliver the rest at once (where `can_skip`)."""

    def pause(self, paused: bool) -> None:
        """Hold the stream (a replay) or not; a live training goes on regardless."""


class TrainingSession(Session):
    """Trains in worker processes and saves what they sent; a run or a sweep."""

    live = True
    can_save = True
    what: ClassVar[str] = "run"  # what the saved file is, for messages

    def __init__(
        self,
        specs: list[ExperimentSpec],
        out: Path,
        threads: int | None = None,
        supervisor: Callable[..., Supervisor] = Supervisor,
    ) -> None:
        super().__init__([RunRecorder(spec) for spec in specs])
        self.specs = specs
        self.out = out
        self.threads = threads
        # What runs each pair: `Supervisor` (this machine) or another, as a Ray cluster's.
        self.make_supervisor = supervisor
        self.supervisor: Supervisor | None = None
        self.saved_path: Path | None = None
        self.interrupted = False
        # Plain flags: a signal handler may set them without taking any lock.
        self.halted = False

    @property
    def path(self) -> Path:
        """Where the run is (or will be) saved."""
        return self.saved_path or self.out

    def start(self) -> None:
        """Start the first pair's workers now, once: called before the dashboard or the
        progress lines load, so the workers' imports overlap theirs (their events wait in
        the supervisor's queue). Only this machine's `Supervisor`: Ray's keeps its place in
        the stream. A pair that fails to start is left to the stream, which starts it again
        and reports the failure where it always has (one message, the run finished by its
        lifecycle)."""
        if self.supervisor is not None or self.make_supervisor is not Supervisor:
            return
        if not self.specs or self.interrupted or self.halted:
            return
        self.supervisor = start_pair(self.specs[0], self.threads)

    def _source(self) -> Iterator[Event]:
        for index, spec in enumerate(self.specs):
            if self.interrupted or self.halted:
                return
            if index or self.supervisor is None:  # else `start` began the first pair
                self.supervisor = self.make_supervisor(spec, threads=self.threads)
                self.supervisor.start()
            if self.interrupted or self.halted:  # stopped while this pair was starting
                self.supervisor.stop()
                return
            for event in self.supervisor.events(timeout=0.2):
                event.run_index = index
                yield event
            self.supervisor.stop()

    def halt(self) -> None:
        """From a signal handler: end the stream soon and start no other pair."""
        self.halted = True
        if self.supervisor is not None:
            self.supervisor.halted = True

    def stop(self) -> None:
        """Interrupt: stop the workers; what they sent so far stays recorded."""
        self.interrupted = True
        self.close()

    def close(self) -> None:
        """Stop and reap the workers without calling the run interrupted (it has ended)."""
        if self.supervisor is not None:
            self.supervisor.stop()

    @property
    def status(self) -> str:
        """The saved document's status (completed, interrupted, failed, running)."""
        return self.run.status

    @property
    def nothing_trained(self) -> bool:
        """True when every model failed before its first training step (the data is
        missing, say): such a run has nothing to lose, and is not saved."""
        return all(trained_nothing(recorder.run) for recorder in self.recorders)

    def document(self) -> Document:
        """What is saved while training goes on (a snapshot)."""
        return self.run

    def _finish(self) -> Document:
        self.recorders[0].finish("interrupted" if self.interrupted or self.halted else None)
        return self.run

    def conclude(self) -> Document:
        """Close the record without writing it (nothing trained, so nothing is saved): its
        status then says how it ended, as a saved file's would."""
        with self.lock:
            return self._finish()

    def save(self, final: bool = True) -> tuple[Path, str | None]:
        """Write the file (a snapshot while running, the final record at the end).

        Returns the path written and a warning when a fallback path had to be used.
        """
        with self.lock:
            document = self._finish() if final else self.document()
            target = self.saved_path or self.out
            path, warning = save_run(document, target, overwrite=self.saved_path is not None)
            self.saved_path = path
            return path, warning


class LiveSession(TrainingSession):
    """Trains the plain/BN pair of one spec into one run file."""

    def __init__(
        self,
        spec: ExperimentSpec,
        out: Path,
        threads: int | None = None,
        started: Supervisor | None = None,
    ) -> None:
        super().__init__([spec], out, threads)
        # The pair's workers, when the command started them before this module loaded.
        self.supervisor = started


class SweepSession(TrainingSession):
    """Trains the pair once per batch size, one pair after the other, into one sweep file."""

    runs_kind = "sweep"
    what = "sweep"

    def __init__(
        self,
        specs: list[ExperimentSpec],
        target: float,
        out: Path,
        threads: int | None = None,
        supervisor: Callable[..., Supervisor] = Supervisor,
    ) -> None:
        super().__init__(specs, out, threads, supervisor)
        self.sweep = SweepFile(
            started_at=self.run.started_at,
            target_accuracy=target,
            batch_sizes=[spec.batch_size for spec in specs],
            runs=[r.run for r in self.recorders],
        )

    @property
    def status(self) -> str:
        """The sweep's status."""
        return self.sweep.status

    @property
    def target(self) -> float:
        """The validation accuracy the sweep's table times."""
        return self.sweep.target_accuracy

    def document(self) -> Document:
        """The sweep as recorded so far."""
        return self.sweep

    def _finish(self) -> Document:
        stopped = self.interrupted or self.halted
        for recorder in self.recorders:
            recorder.finish("interrupted" if stopped else None)
        statuses = {r.run.status for r in self.recorders}
        status = "completed"
        if "failed" in statuses:
            status = "failed"
        if stopped or "interrupted" in statuses:
            status = "interrupted"
        self.sweep.status = status  # type: ignore[assignment]
        return self.sweep


class ReplaySession(Session):
    """Re-enacts saved runs at their recorded pace (times `speed`), one after the other on
    one clock, each into its own record."""

    can_skip = True

    def __init__(self, run: RunFile, speed: float = 1.0, path: Path | None = None) -> None:
        self._replay([run], speed, path)

    def _replay(self, runs: list[RunFile], speed: float, path: Path | None) -> None:
        super().__init__([RunRecorder(run.spec, empty_like(run)) for run in runs])
        self.source = path
        events: list[Event] = []
        offset = 0.0
        for index, run in enumerate(runs):
            run_events = events_from_run(run)
            for event in run_events:
                event.run_index = index
                event.t += offset
            offset = max([offset, *(e.t for e in run_events)])
            events.extend(run_events)
        self.replay = ReplaySource(events, speed)

    @property
    def speed(self) -> float:
        """Replay speed (×1 = the recorded pace)."""
        return self.replay.speed

    @property
    def path(self) -> Path | None:
        """The file being replayed."""
        return self.source

    def _source(self) -> Iterator[Event]:
        return iter(self.replay)

    def stop(self) -> None:
        """Stop the replay."""
        self.replay.stop()

    def skip_to_end(self) -> None:
        """Jump to the end of the recording."""
        self.replay.skip_to_end()

    def pause(self, paused: bool) -> None:
        """Hold the replay where it is, or go on."""
        self.replay.pause(paused)


class SweepReplaySession(ReplaySession):
    """Re-enacts a saved sweep: each batch size's pair in turn, at the recorded pace."""

    runs_kind = "sweep"

    def __init__(self, sweep: SweepFile, speed: float = 1.0, path: Path | None = None) -> None:
        self._replay(sweep.runs, speed, path)
        self.sweep = sweep

    @property
    def target(self) -> float:
        """The validation accuracy the sweep's table times."""
        return self.sweep.target_accuracy


class CompareSession(ReplaySession):
    """Saved runs side by side: the first is shown in full at once, all in the Compare tab."""

    runs_kind = "compare"
    can_skip = False

    def __init__(self, runs: list[RunFile], labels: list[str], names: list[str]) -> None:
        super().__init__(runs[0], speed=1.0)
        self.replay.skip_to_end()
        self._runset = RunSet("compare", labels, runs, names=names)

    @property
    def runset(self) -> RunSet:
        """The runs being compared."""
        return self._runset
