"""The Textual app of `bntui claims` (live) and of `bntui replay` on a claims file: it shows
the Claims tab, reads ONE event stream in a thread (the battery's `events()`, or a replay
of its file) and ends the process as headless does: 0 when the battery completed, 1 when
it was interrupted or failed, 128 + N after signal N.

It never imports Keras: a live battery trains in worker processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from typing import Any

from textual import work
from textual.app import App

from bntui.claims.claimfile import ClaimsFile
from bntui.claims.events import BatteryEnded, ClaimsEvent
from bntui.claims.replay import replay_events
from bntui.claims.runner import BatteryRun
from bntui.core.text import clean, say
from bntui.session.lifecycle import STOP_SIGNALS
from bntui.tui.screens.claims import BatteryEvent, ClaimsScreen, Source

# How long stopping waits for the reader to let go of the battery's stream.
STOP_WAIT_S = 30


class ClaimsApp(App[int]):
    """The Claims tab for a battery training now or replayed from its file."""

    TITLE = "bntui claims"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        header: ClaimsFile,
        stream: Callable[[], Iterator[ClaimsEvent]],
        source: Source,
        run: BatteryRun | None = None,
    ) -> None:
        super().__init__()
        self.stream, self.source, self.battery = stream, source, run
        self.claims_screen = ClaimsScreen(header, source, keep_cells=run is not None)
        self.stop_replay = threading.Event()
        self.skip_replay = threading.Event()
        self.stream_done = threading.Event()
        self.ended: BatteryEnded | None = None
        self.signal: int | None = None
        self.requested_code = 0
        self.quitting = False

    @classmethod
    def live(cls, run: BatteryRun) -> ClaimsApp:
        """Train `run`'s missing cells and show them land."""
        # Spawning the workers starts multiprocessing's resource tracker, handing it
        # sys.stderr's descriptor; inside the app sys.stderr is Textual's stand-in, whose
        # descriptor is -1 ("bad value(s) in fds_to_keep"). Start the tracker now.
        resource_tracker.ensure_running()
        return cls(run.claims, run.events, Source(str(run.out)), run)

    @classmethod
    def replay(cls, claims: ClaimsFile, speed: float, path: str | os.PathLike[str]) -> ClaimsApp:
        """Re-enact the battery of `claims` (read from `path`) `speed` times faster."""
        app: ClaimsApp

        def stream() -> Iterator[ClaimsEvent]:
            return replay_events(claims, speed, app.stop_replay, app.skip_replay)

        app = cls(claims, stream, Source(str(path), speed))
        return app

    def on_mount(self) -> None:
        """Show the Claims tab, start reading the stream, take the stop signals."""
        self.push_screen(self.claims_screen)
        if self.battery is not None:  # the estimate before anything trains
            self.claims_screen.seconds_left = (self.battery.eta.seconds_left(), time.monotonic())
        self.read_stream()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.stop_from_signal, sig)

    @work(thread=True, exclusive=True, name="claims-stream")
    def read_stream(self) -> None:
        """Read the battery's events (blocking) and post each to the screen; once a stop
        was asked for, what the stream still says is not shown (the stop saves)."""
        events = self.stream()
        try:
            for event in events:
                if self.quitting:
                    break
                left = self.battery.eta.seconds_left() if self.battery is not None else None
                if isinstance(event, BatteryEnded):
                    self.ended = event
                self.claims_screen.post_message(BatteryEvent(event, left))
        except Exception as exc:  # a save that failed, a worker pool that broke
            self.ended = BatteryEnded("failed", self.source.path,
                                      clean(f"the battery stopped: {exc}", 300), 0.0)  # fmt: skip
            self.claims_screen.post_message(BatteryEvent(self.ended))
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
            self.stream_done.set()

    def exit_code(self) -> int:
        """128 + the signal that stopped it; else what was asked; else 0 when the battery
        completed (or a replay ran), 1 when it was interrupted or failed."""
        if self.signal is not None:
            return 128 + self.signal
        if self.requested_code:
            return self.requested_code
        if self.battery is None:
            return 0
        return 0 if self.ended is not None and self.ended.status == "completed" else 1

    # -- what the screen asks -------------------------------------------------------------

    def quit_now(self) -> None:
        """Leave at once (a replay, or a battery that has ended)."""
        self.stop_replay.set()
        self.exit(self.exit_code())

    def skip_to_end(self) -> None:
        """Replay: deliver the rest of the recording at once."""
        self.skip_replay.set()

    def begin_stop(self, code: int) -> None:
        """Stop the battery in a thread (it saves what finished as interrupted); then leave."""
        if self.quitting:
            return
        self.quitting = True
        self.requested_code = code
        self.claims_screen.stopping = True
        if self.battery is None or self.ended is not None:
            self.quit_now()
            return
        self.run_worker(self._stop_battery, thread=True, name="stop-battery")

    def _stop_battery(self) -> None:
        self.ended = self.stop_and_save()
        self.call_from_thread(self.exit, self.exit_code())

    def stop_and_save(self) -> BatteryEnded:
        """Stop the workers and save the battery as interrupted, with what finished (in a
        thread: it waits for the reader to let go of the stream)."""
        run = self.battery
        assert run is not None
        ended = run.stop()  # from now on the stream records nothing: this save is the last
        self.stream_done.wait(timeout=STOP_WAIT_S)
        return ended

    def stop_from_signal(self, signum: int) -> None:
        """SIGINT, SIGTERM or SIGHUP: stop and save without asking, exit 128 + N."""
        if self.signal is None:
            self.signal = signum
        if self.battery is None or self.ended is not None:
            self.quit_now()
        elif signum == signal.SIGHUP:
            # The terminal is gone: Textual's shutdown would block writing to it.
            threading.Thread(target=self._save_and_leave).start()
        else:
            self.begin_stop(0)

    def _save_and_leave(self) -> None:
        self.quitting = True
        self.ended = self.stop_and_save()
        os._exit(self.exit_code())

    def run(self, *args: Any, **kwargs: Any) -> int | None:
        """Run the app; then, for a live battery, say where its file went."""
        result = super().run(*args, **kwargs)
        for line in self.closing_lines():
            say(line)
        return result

    def closing_lines(self) -> list[str]:
        """Where a live battery's claims file went, and how to resume an interrupted one."""
        if self.battery is None or self.ended is None:
            return []
        lines = [f"bntui: warning: {clean(self.ended.message)}"] if self.ended.message else []
        path = self.ended.path or str(self.battery.out)
        lines.append(f"bntui: claims file saved to {clean(path)} ({self.ended.status})")
        if self.ended.status == "interrupted":
            lines.append(f"bntui: resume with: bntui claims --resume {clean(path)}")
        return lines
