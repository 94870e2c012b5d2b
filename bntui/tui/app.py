"""The Textual app: it pushes the dashboard, reads the session's event stream in a thread,
and ends the process the way `bntui.session.lifecycle` says (the same as headless).

It never imports Keras: a live session's training happens in worker processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Sequence

from textual import work
from textual.app import App
from textual.filter import LineFilter

from bntui.core.text import say
from bntui.session.lifecycle import STOP_SIGNALS, Lifecycle
from bntui.session.sessions import Session, TrainingSession
from bntui.session.view import EventInbox
from bntui.tui.messages import EventsPending, StreamEnded
from bntui.tui.screens.dashboard import DashboardScreen
from bntui.tui.widgets.guard import TerminalGuard


class BntuiApp(App[int]):
    """The bntui dashboard for a live or replayed session."""

    TITLE = "bntui"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.inbox = EventInbox()
        self.dashboard = DashboardScreen(session, self.inbox)
        self.lifecycle = Lifecycle(session) if isinstance(session, TrainingSession) else None
        self.requested_code = 0
        self.quitting = False
        self.stream_done = threading.Event()
        self.guard = TerminalGuard()

    def on_mount(self) -> None:
        """Show the dashboard, start reading the stream, take the stop signals."""
        self.push_screen(self.dashboard)
        self.read_stream()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.stop_from_signal, sig)

    @work(thread=True, exclusive=True, name="event-stream")
    def read_stream(self) -> None:
        """Read the session's events (blocking) into the inbox; save a live run at the end."""
        self.session.start()
        for event in self.session.events():
            self.inbox.put(event)
            self.dashboard.post_message(EventsPending())
        saved = warning = None
        if self.lifecycle is not None:
            self.lifecycle.finish()
            if self.lifecycle.saved is not None:
                path, warning = self.lifecycle.saved
                saved = str(path)
            else:
                warning = self.lifecycle.save_error
        self.stream_done.set()
        self.dashboard.post_message(StreamEnded(saved, warning))
        if self.quitting:
            self.call_from_thread(self.exit, self.exit_code())

    def exit_code(self) -> int:
        """What the process exits with: the lifecycle's word for a live session."""
        if self.lifecycle is None:
            return 0
        return self.lifecycle.exit_code(self.requested_code)

    # -- what the dashboard asks ---------------------------------------------------------

    def save_snapshot(self) -> str:
        """Write the run file now (a live run only; the final save still happens)."""
        session = self.session
        if not isinstance(session, TrainingSession):
            return "a replay is already saved"
        if self.stream_done.is_set():
            return f"already saved: {session.path}"
        try:
            path, warning = session.save(final=False)
        except OSError as exc:
            return f"could not save: {exc}"
        return warning or f"saved a snapshot to {path}"

    def screenshot(self) -> str:
        """Save what is on screen as an SVG in `runs/` (beside the run files)."""
        name = f"bntui-screenshot-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        try:
            os.makedirs("runs", exist_ok=True)
            return f"screenshot saved: {self.save_screenshot(name, path='runs')}"
        except OSError as exc:
            return f"could not save the screenshot: {exc}"

    def quit_now(self) -> None:
        """Leave at once (a replay, or a live run already saved)."""
        if self.lifecycle is None:
            self.session.stop()
        self.exit(self.exit_code())

    def begin_stop(self, code: int) -> None:
        """Stop the workers in a thread; the stream then ends, is saved, and the app exits."""
        if self.quitting:
            return
        self.quitting = True
        self.requested_code = code
        self.dashboard.stopping = True
        if self.stream_done.is_set():
            self.exit(self.exit_code())
            return
        self.run_worker(self.session.stop, thread=True, name="stop-workers")

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then the guard that keeps raw control characters off the
        terminal whatever a widget was given."""
        return [*super().get_line_filters(), self.guard]

    def stop_from_signal(self, signum: int) -> None:
        """SIGINT, SIGTERM or SIGHUP (the SSH link dropped): stop and save without asking."""
        if self.lifecycle is None:
            self.session.stop()
            self.exit(128 + signum)
            return
        self.lifecycle.stop_requested(signum)
        if signum == signal.SIGHUP:
            # The terminal is gone: Textual's shutdown would block writing to it. Save, then
            # leave at once.
            threading.Thread(target=self._save_and_leave).start()
        else:
            self.begin_stop(0)

    def _save_and_leave(self) -> None:
        self.quitting = True
        self.session.stop()
        self.stream_done.wait(timeout=30)
        os._exit(self.exit_code())

    def finish(self) -> int:
        """After the app exits: a live run is stopped and saved (if it was not yet); say
        where it went; return the exit code."""
        if self.lifecycle is None:
            return self.return_value or 0
        self.lifecycle.finish()
        for line in self.lifecycle.closing_lines():
            say(line)
        return self.exit_code()
