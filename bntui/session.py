"""Sessions: one event stream, two sources. A live run or a replay, seen the same way.

Both apply every event to a `RunRecorder` before handing it on, so whoever consumes the
stream (dashboard or headless printer) reads the same state. Neither imports Textual or
Keras.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from bntui.events import Event
from bntui.recorder import RunRecorder, empty_like
from bntui.replay import ReplaySource
from bntui.runfile import RunFile, save_run
from bntui.spec import ExperimentSpec
from bntui.supervisor import Supervisor


class Session:
    """Common face of live and replayed runs."""

    live = False

    def __init__(self, recorder: RunRecorder) -> None:
        self.recorder = recorder
        self.finished = threading.Event()
        # Held while an event is recorded, the run is saved, or the UI reads the record.
        self.lock = threading.RLock()

    @property
    def run(self) -> RunFile:
        """The run as recorded so far."""
        return self.recorder.run

    def _source(self) -> Iterator[Event]:
        raise NotImplementedError

    def start(self) -> None:
        """Begin producing events."""

    def events(self) -> Iterator[Event]:
        """Yield each event after recording it; sets `finished` when the stream ends."""
        try:
            for event in self._source():
                with self.lock:
                    self.recorder.apply(event)
                yield event
        finally:
            self.finished.set()

    def stop(self) -> None:
        """Stop producing events (a live run's workers are stopped)."""

    def skip_to_end(self) -> None:
        """Replay only: deliver the rest at once."""


class LiveSession(Session):
    """Trains the pair in worker processes and saves the run file at the end."""

    live = True

    def __init__(self, spec: ExperimentSpec, out: Path, threads: int | None = None) -> None:
        super().__init__(RunRecorder(spec))
        self.out = out
        self.supervisor = Supervisor(spec, threads=threads)
        self.saved_path: Path | None = None
        self.interrupted = False

    def start(self) -> None:
        """Spawn the workers."""
        self.supervisor.start()

    def _source(self) -> Iterator[Event]:
        return self.supervisor.events(timeout=0.2)

    def stop(self) -> None:
        """Interrupt: stop the workers; what they sent so far stays recorded."""
        self.interrupted = True
        self.supervisor.stop()

    def save(self, final: bool = True) -> tuple[Path, str | None]:
        """Write the run file (a snapshot while running, the final record at the end).

        Returns the path written and a warning when a fallback path had to be used.
        """
        with self.lock:
            run = self.recorder.run
            if final:
                self.recorder.finish("interrupted" if self.interrupted else None)
            target = self.saved_path or self.out
            path, warning = save_run(run, target, overwrite=self.saved_path is not None)
            self.saved_path = path
            return path, warning


class ReplaySession(Session):
    """Re-enacts a saved run at its recorded pace (times `speed`)."""

    def __init__(self, run: RunFile, speed: float = 1.0) -> None:
        super().__init__(RunRecorder(run.spec, empty_like(run)))
        self.replay = ReplaySource(run, speed)

    def _source(self) -> Iterator[Event]:
        return iter(self.replay)

    def stop(self) -> None:
        """Stop the replay."""
        self.replay.stop()

    def skip_to_end(self) -> None:
        """Jump to the end of the recording."""
        self.replay.skip_to_end()
