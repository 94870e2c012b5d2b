"""The Textual app of a run, a sweep, a replay or a comparison: it pushes the dashboard and
reads the session's event stream; reading, signals, stopping, saving and the exit code are
`bntui.tui.stream_app.StreamApp`'s (the same as the Claims tab's, and as headless).

It never imports Keras: a live session's training happens in worker processes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from bntui.core.events import Event
from bntui.session.lifecycle import Lifecycle
from bntui.session.sessions import Session, TrainingSession
from bntui.session.view import EventInbox
from bntui.tui.screens.dashboard import DashboardScreen
from bntui.tui.stream_app import StreamApp


class BntuiApp(StreamApp[Event]):
    """The bntui dashboard for a live or replayed session."""

    TITLE = "bntui"
    STREAM_NAME = "the training"

    def __init__(self, session: Session) -> None:
        inbox: EventInbox[Event] = EventInbox()
        dashboard = DashboardScreen(session, inbox)
        live = Lifecycle(session) if isinstance(session, TrainingSession) else None
        super().__init__(dashboard, inbox, live)
        self.session, self.dashboard = session, dashboard

    def stream(self) -> Iterator[Event]:
        """The session's events (a live one starts its workers first)."""
        self.session.start()
        return self.session.events()

    def stop_stream(self) -> None:
        """End a replay."""
        self.session.stop()

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
