"""The Textual app of `bntui claims` (live) and of `bntui replay` on a claims file: it shows
the Claims tab and reads ONE event stream (the battery's `events()`, or a replay of its
file); reading, signals, stopping, saving and the exit code are
`bntui.tui.stream_app.StreamApp`'s, the same as the run dashboard's and as headless.

It never imports Keras: a live battery trains in worker processes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from multiprocessing import resource_tracker

from bntui.claims.claimfile import ClaimsFile
from bntui.claims.events import ClaimsEvent
from bntui.claims.replay import BatteryReplay
from bntui.claims.runner import BatteryRun
from bntui.session.lifecycle import Lifecycle
from bntui.session.view import EventInbox
from bntui.tui.screens.claims import ClaimsScreen, Landed, Source
from bntui.tui.stream_app import StreamApp


class ClaimsApp(StreamApp[Landed]):
    """The Claims tab for a battery training now or replayed from its file."""

    TITLE = "bntui claims"
    STREAM_NAME = "the battery"

    def __init__(
        self,
        header: ClaimsFile,
        source: Source,
        run: BatteryRun | None = None,
        replay: BatteryReplay | None = None,
    ) -> None:
        inbox: EventInbox[Landed] = EventInbox()
        screen = ClaimsScreen(header, source, inbox, keep_cells=run is not None)
        super().__init__(screen, inbox, Lifecycle(run) if run is not None else None)
        self.claims_screen, self.battery, self.replayed = screen, run, replay
        self.source_events: Iterable[ClaimsEvent] = run.events() if run else replay or ()

    @classmethod
    def live(cls, run: BatteryRun) -> ClaimsApp:
        """Train `run`'s missing cells and show them land."""
        # Spawning the workers starts multiprocessing's resource tracker, handing it
        # sys.stderr's descriptor; inside the app sys.stderr is Textual's stand-in, whose
        # descriptor is -1 ("bad value(s) in fds_to_keep"). Start the tracker now.
        resource_tracker.ensure_running()
        return cls(run.claims, Source(str(run.out)), run=run)

    @classmethod
    def replay(cls, claims: ClaimsFile, speed: float, path: str | os.PathLike[str]) -> ClaimsApp:
        """Re-enact the battery of `claims` (read from `path`) `speed` times faster."""
        return cls(claims, Source(str(path), speed), replay=BatteryReplay(claims, speed))

    def on_mount(self) -> None:
        """As every stream app; a live battery shows its estimate before anything trains."""
        super().on_mount()
        if self.battery is not None:
            self.claims_screen.seconds_left = (self.battery.eta.seconds_left(), time.monotonic())

    def stream(self) -> Iterator[Landed]:
        """The battery's events, each with the time it then had left (live)."""
        for event in self.source_events:
            left = self.battery.eta.seconds_left() if self.battery is not None else None
            yield Landed(event, left)

    def stop_stream(self) -> None:
        """End a replay."""
        if self.replayed is not None:
            self.replayed.stop()

    # -- what the screen asks -------------------------------------------------------------

    def skip_to_end(self) -> None:
        """Replay: deliver the rest of the recording at once."""
        if self.replayed is not None:
            self.replayed.skip_to_end()

    def pause(self, paused: bool) -> None:
        """Replay: hold where it is, or go on (a live battery trains on regardless)."""
        if self.replayed is not None:
            self.replayed.pause(paused)

    def closing_lines(self) -> list[str]:
        """Where a live battery's claims file went, and how to resume an interrupted one."""
        lines = super().closing_lines()
        resume = self.battery.resume_line() if self.battery is not None else None
        return [*lines, resume] if resume else lines
