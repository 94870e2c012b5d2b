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
from bntui.core.spec import MODEL_TITLES
from bntui.core.text import clean
from bntui.session.lifecycle import Lifecycle
from bntui.session.sessions import Session, TrainingSession
from bntui.session.view import EventInbox
from bntui.stats.figures import failures
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
        """The session's events (a live one's workers are started first, unless the CLI
        started them already)."""
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
        lifecycle = self.lifecycle
        if lifecycle is not None and lifecycle.unsaved:
            return lifecycle.unsaved
        if self.stream_done.is_set():
            return f"already saved: {session.path}"
        try:
            path, warning = session.save(final=False)
        except OSError as exc:
            return f"could not save: {exc}"
        return warning or f"saved a snapshot to {path}"

    def closing_lines(self) -> list[str]:
        """As every stream's; where nothing was saved (nothing trained), first why each
        model failed, which no file keeps (headless printed it as it came)."""
        lines = super().closing_lines()
        if self.lifecycle is None or not self.lifecycle.unsaved:
            return lines
        reasons: dict[str, list[str]] = {}
        for key, why in failures(self.session.run):
            reasons.setdefault(clean(why, 4000), []).append(MODEL_TITLES[key])
        said = [f"bntui: {' and '.join(who)} failed: {why}" for why, who in reasons.items()]
        return said + lines

    def screenshot(self) -> str:
        """Save what is on screen as an SVG in `runs/` (beside the run files)."""
        name = f"bntui-screenshot-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        try:
            os.makedirs("runs", exist_ok=True)
            return f"screenshot saved: {self.save_screenshot(name, path='runs')}"
        except OSError as exc:
            return f"could not save the screenshot: {exc}"
