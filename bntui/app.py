"""The Textual app: reads a session's event stream in a thread and keeps the dashboard fresh.

It never imports Keras: a live session's training happens in worker processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.filter import LineFilter
from textual.message import Message

from bntui.events import BatchProgress, CallbackNote, Event, ModelDone, SystemSample
from bntui.screens.confirm import ConfirmScreen
from bntui.screens.dashboard import TABS, DashboardScreen
from bntui.session import LiveSession, ReplaySession, Session
from bntui.spec import MODEL_TITLES
from bntui.text import clean, say
from bntui.widgets.guard import TerminalGuard
from bntui.widgets.inside import INSIDE_VIEWS

# Curve points arrive ~20 times a second per model; drawing them twice a second keeps the
# UI process near 5% of a core while training (4 times a second cost ~8%). Keys redraw at once.
REFRESH_S = 0.5
METRICS = ("loss", "accuracy")
SERIES_MODES = ("both", "train", "val")


class RunEvent(Message):
    """One event from the session's stream. Curve points of one model supersede each other."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        """A newer curve point of the same model makes this one redundant (it is recorded)."""
        if not isinstance(message, RunEvent):
            return False
        if isinstance(self.event, SystemSample):
            return isinstance(message.event, SystemSample)
        return (
            isinstance(self.event, BatchProgress)
            and isinstance(message.event, BatchProgress)
            and message.event.model == self.event.model
        )


class StreamEnded(Message):
    """The stream is over; a live run has been saved to `path`."""

    def __init__(self, path: Path | None, warning: str | None) -> None:
        super().__init__()
        self.path = path
        self.warning = warning


class BntuiApp(App[int]):
    """The bntui dashboard for a live or replayed session."""

    TITLE = "bntui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit_app", "Quit"),
        Binding("ctrl+c", "quit_app", "Quit", show=False, priority=True),
        Binding("p", "pause", "Pause"),
        Binding("m", "metric", "Loss/acc"),
        Binding("v", "series", "Train/val"),
        Binding("s", "save", "Save"),
        Binding("e", "end", "End"),
        Binding("i", "tab('inside')", "Inside"),
        Binding("0", "tab('runs')", "Runs", show=False),
        Binding("c", "save_screenshot", "Screenshot", show=False),
        Binding("n", "inside_view", "Next stat"),
        *[
            Binding(str(i + 1), f"tab('{tab}')", tab.title(), show=False)
            for i, tab in enumerate(TABS)
        ],
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        # Runs side by side compare validation accuracy; a single run starts on loss.
        self.metric = "accuracy" if session.runset is not None else "loss"
        self.series_mode = "both"
        self.inside_view = 0
        self.paused = False
        self.dirty = True
        self.ended = False
        self.quitting = False
        self.exit_code = 0
        self.note = ""
        self.saved: tuple[Path | None, str | None] = (None, None)
        self.stream_done = threading.Event()
        self.guard = TerminalGuard()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys that do nothing here: save in a replay, jump-to-end in a live run."""
        if action == "save":
            return self.session.live and not self.ended
        if action == "end":
            return not self.session.live and not self.ended
        if action == "tab" and parameters == ("runs",):
            return self.session.runset is not None
        if action == "inside_view":
            try:
                return self.dashboard.active_tab == "inside"
            except (KeyError, NoMatches):  # asked before the dashboard exists
                return False
        return True

    @property
    def dashboard(self) -> DashboardScreen:
        """The main screen (it stays at the bottom of the screen stack)."""
        return self.get_screen("dashboard")  # type: ignore[return-value]

    def on_mount(self) -> None:
        """Show the dashboard, start reading the stream, redraw at most every REFRESH_S."""
        runset = self.session.runset
        self.install_screen(DashboardScreen(runset.kind if runset else None), "dashboard")
        self.push_screen("dashboard")
        self.consume()
        self.set_interval(REFRESH_S, self.redraw)
        # SIGINT too: from `kill -INT`, job control or a supervisor (the Ctrl-C key itself
        # arrives as a key, the terminal being in raw mode). A replay stops the same way.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.stop_from_signal, sig)
        self.call_after_refresh(self.redraw)

    @work(thread=True, exclusive=True, name="event-stream")
    def consume(self) -> None:
        """Read the session's events (blocking) and post them; save a live run at the end."""
        self.session.start()
        for event in self.session.events():
            self.post_message(RunEvent(event))
        path = warning = None
        if isinstance(self.session, LiveSession):
            try:
                path, warning = self.session.save()
            except OSError as exc:
                warning = f"the run could not be saved: {exc}"
        self.saved = (path, warning)
        self.stream_done.set()
        self.post_message(StreamEnded(path, warning))

    def on_run_event(self, message: RunEvent) -> None:
        """Mark the view stale; say so when a model finishes."""
        self.dirty = True
        event = message.event
        if isinstance(event, CallbackNote) and not self.session.runset:
            title = MODEL_TITLES.get(event.model, event.model)
            self.notify(f"{title}: {clean(event.message, 300)}", timeout=6, markup=False)
        if isinstance(event, ModelDone) and event.status in ("failed", "diverged"):
            why = f": {clean(event.error, 200)}" if event.error else ""
            self.notify(
                f"{MODEL_TITLES.get(event.model, event.model)} {event.status}{why}",
                severity="error",
                timeout=10,
                markup=False,
            )

    def on_stream_ended(self, message: StreamEnded) -> None:
        """Training (or the replay) is over: show where the run was saved, or quit."""
        self.ended = True
        self.dirty = True
        self.refresh_bindings()
        self.saved = (message.path, message.warning)
        if message.path:
            self.note = f"saved {message.path}"
        if message.warning:
            self.notify(message.warning, severity="warning", timeout=15, markup=False)
        if self.quitting:
            self.exit(self.exit_code)

    def mode_word(self) -> str:
        """LIVE, REPLAY ×N, PAUSED or DONE, for the status line."""
        if self.paused:
            return "PAUSED"
        if self.ended:
            return "DONE" if self.session.live else "REPLAY END"
        if self.quitting:
            return "STOPPING"
        if self.session.live:
            return "LIVE"
        speed = self.session.replay.speed if isinstance(self.session, ReplaySession) else 1.0
        return f"REPLAY ×{speed:g}"

    def redraw(self) -> None:
        """Repaint from the record if something changed (never more than every REFRESH_S)."""
        screen = self.dashboard
        if not screen.ready:
            # Asked before the dashboard has mounted its widgets: draw the first frame as soon
            # as it has, not at the next tick.
            self.call_after_refresh(self.redraw)
            return
        with self.session.lock:
            run = self.session.run
            try:
                screen.show_status(run, self.mode_word(), self.note)
                if self.dirty and not self.paused:
                    self.dirty = False
                    screen.show_run(
                        run,
                        self.metric,
                        self.series_mode,
                        not self.no_color,
                        self.inside_view,
                        self.session.runset,
                    )
            except NoMatches:
                pass  # the app is exiting and has begun removing the dashboard's widgets

    def action_tab(self, tab: str) -> None:
        """Switch tabs (keys 1–4)."""
        self.dashboard.show_tab(tab)
        self.dirty = True
        self.call_after_refresh(self.redraw)

    def on_tabbed_content_tab_activated(self) -> None:
        """Draw a tab as soon as it is shown."""
        self.refresh_bindings()
        self.dirty = True
        self.call_after_refresh(self.redraw)

    def action_inside_view(self) -> None:
        """Inside tab: plot the next layer statistic."""
        self.inside_view = (self.inside_view + 1) % len(INSIDE_VIEWS)
        self.dirty = True
        self.redraw()

    def action_pause(self) -> None:
        """Freeze or unfreeze the view; training and recording go on."""
        self.paused = not self.paused
        self.dirty = True
        self.redraw()

    def action_metric(self) -> None:
        """Toggle the curves between loss and accuracy."""
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.dirty = True
        self.redraw()

    def action_series(self) -> None:
        """Cycle the curves: train and validation, train only, validation only."""
        i = SERIES_MODES.index(self.series_mode)
        self.series_mode = SERIES_MODES[(i + 1) % len(SERIES_MODES)]
        self.notify(f"showing {self.series_mode} curves", timeout=2)
        self.dirty = True
        self.redraw()

    def action_save(self) -> None:
        """Write the run file now (a live run only; the final save still happens at the end)."""
        if not isinstance(self.session, LiveSession):
            self.notify("a replay is already saved", timeout=3)
            return
        if self.ended:
            self.notify(f"already saved: {self.saved[0]}", timeout=5, markup=False)
            return
        try:
            path, warning = self.session.save(final=False)
        except OSError as exc:
            self.notify(f"could not save: {exc}", severity="error", markup=False)
            return
        self.notify(warning or f"saved a snapshot to {path}", timeout=5, markup=False)

    def action_save_screenshot(self) -> None:
        """Save what is on screen as an SVG in the current folder."""
        name = f"bntui-screenshot-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        try:
            path = self.save_screenshot(name, path=".")
        except OSError as exc:
            self.notify(f"could not save the screenshot: {exc}", severity="error", markup=False)
            return
        self.notify(f"screenshot saved: {path}", timeout=5, markup=False)

    def action_end(self) -> None:
        """Replay: jump to the end of the recording."""
        self.session.skip_to_end()

    def action_quit_app(self) -> None:
        """Quit; a live training still running is stopped and saved only after confirming."""
        if not self.session.live or self.ended:
            self.session.stop()
            self.exit(self.exit_code)
            return
        if isinstance(self.screen, ConfirmScreen):
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.begin_stop(0)

        self.push_screen(
            ConfirmScreen("Training is still running. Stop both models and save the run as "
                          "interrupted?"),
            answer,
        )  # fmt: skip

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then the guard that keeps raw control characters off the
        terminal whatever a widget was given."""
        return [*super().get_line_filters(), self.guard]

    def stop_from_signal(self, signum: int) -> None:
        """SIGINT, SIGTERM or SIGHUP (the SSH link dropped): stop and save without asking."""
        if signum == signal.SIGHUP:
            # The terminal is gone: Textual's shutdown would block writing to it. Save, then
            # leave at once.
            threading.Thread(target=self._stop_and_exit, args=(128 + signum,)).start()
        else:
            self.begin_stop(128 + signum)

    def _stop_and_exit(self, code: int) -> None:
        self.quitting = True
        self.session.stop()
        self.stream_done.wait(timeout=30)
        os._exit(code)

    def begin_stop(self, code: int) -> None:
        """Stop the workers in a thread; the stream then ends, is saved, and the app exits."""
        if self.quitting:
            return
        self.quitting = True
        self.exit_code = code
        if self.ended:
            self.exit(code)
            return
        self.run_worker(self.session.stop, thread=True, name="stop-workers")

    def finish_live(self) -> int:
        """After the app exits: make sure a live run is stopped and saved; print where."""
        session = self.session
        if not isinstance(session, LiveSession):
            return 0
        if not session.finished.is_set() or session.saved_path is None:
            session.stop()
            try:
                self.saved = session.save()
            except OSError as exc:
                say(f"bntui: error: the run could not be saved: {exc}")
                return 1
        path, warning = self.saved
        if warning:
            say(f"bntui: warning: {warning}")
        what = "sweep" if session.sweep is not None else "run"
        say(f"bntui: {what} saved to {path or session.saved_path} ({session.status})")
        if self.exit_code:
            return self.exit_code
        return 1 if session.status == "failed" else 0
