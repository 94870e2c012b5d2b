"""What the dashboard shows, kept apart from what the session saves.

The session's reader thread records every event for the file and drops it in an
`EventInbox`; the dashboard takes what arrived since its last look (O(new events), under a
lock held only for that swap) and applies it to a record of its own on the UI thread. Widgets
then render from that record without any lock, while the reader thread goes on. Both records
are made by the same `RunRecorder`, so they cannot disagree. No Textual here.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from bntui.core.events import Event
from bntui.record.recorder import RunRecorder
from bntui.record.runfile import RunFile
from bntui.session.sessions import Session
from bntui.stats.compare import RunSet

T = TypeVar("T")  # a run's `Event`, or what a battery's reader hands on


class EventInbox(Generic[T]):
    """Events handed from the reader thread to the UI thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[T] = []

    def put(self, event: T) -> None:
        """Leave one event (reader thread)."""
        with self._lock:
            self._events.append(event)

    def take(self) -> list[T]:
        """Everything left since the last call, in order (UI thread)."""
        with self._lock:
            events, self._events = self._events, []
        return events


class RunView:
    """The dashboard's own record of a session's runs, and which of them is on show."""

    def __init__(self, session: Session) -> None:
        self.recorders = [RunRecorder(run.spec, run) for run in session.templates]
        self.kind = session.runs_kind
        self.target = session.target
        self._fixed = session.runset
        self.on_show = 0  # the run of the latest event: a sweep shows the batch size training

    @property
    def run(self) -> RunFile:
        """The run on show."""
        return self.recorders[self.on_show].run

    @property
    def runs(self) -> list[RunFile]:
        """Every run, as shown so far."""
        return [recorder.run for recorder in self.recorders]

    @property
    def runset(self) -> RunSet | None:
        """The runs shown together: a comparison's, or a sweep's batch sizes; else None."""
        if self._fixed is not None:
            return self._fixed
        if self.kind != "sweep":
            return None
        labels = [str(run.spec.batch_size) for run in self.runs]
        return RunSet("sweep", labels, self.runs, self.target)

    def apply(self, events: list[Event]) -> None:
        """Record what arrived; the run of the latest event goes on show."""
        for event in events:
            if 0 <= event.run_index < len(self.recorders):
                self.recorders[event.run_index].apply(event)
                if event.model != "system":
                    self.on_show = event.run_index
