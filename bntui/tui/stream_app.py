"""What both Textual apps share (`BntuiApp` for runs, `ClaimsApp` for batteries): ONE event
stream read in a thread into an inbox, the screen told that events wait (`EventsPending`,
coalesced), the stop signals, stopping and saving a live stream through its `Lifecycle`, and
the one exit-code table (`bntui.session.lifecycle.exit_code`), as headless does.

It never imports Keras: live training happens in worker processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.filter import LineFilter
from textual.reactive import var
from textual.screen import Screen

from bntui.core.text import clean, say
from bntui.session.lifecycle import STOP_SIGNALS, Lifecycle, exit_code
from bntui.session.view import EventInbox
from bntui.tui.messages import EventsPending, StreamEnded
from bntui.tui.screens.confirm import ConfirmScreen
from bntui.tui.screens.help import help_screen, messages_screen
from bntui.tui.widgets.guard import TerminalGuard

T = TypeVar("T")  # what the stream hands the screen
# How long a SIGHUP waits for the reader to let go of the stream before saving anyway.
STOP_WAIT_S = 30


class StreamControls(Protocol):
    """What a stream's screen asks of its app (`StreamApp`)."""

    def quit_now(self) -> None:
        """Leave: nothing is training."""
        ...

    def begin_stop(self) -> None:
        """Stop the training, save it, then leave."""
        ...


class StreamScreen(Screen[None]):
    """The state both screens keep about their stream, how both ask before stopping, their
    help (`?`, F1), their messages shown whole (`l`), and why a key cannot act now."""

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="these keys"),
        Binding(
            "l",
            "messages",
            "Log",
            tooltip="every message so far, whole (a failure's reason, a worker's error, "
            "what the status line said)",
        ),
    ]
    STREAM_WORD = "the stream"  # what has ended, in the reason `p` gives then
    paused = var(False)  # the view is frozen (a replay holds where it is)
    ended = var(False)  # the stream is over
    stopping = var(False)  # a stop was asked for: the workers are being stopped
    message = var("")  # a passing message in the status line

    def __init__(self) -> None:
        super().__init__()
        self.message_until = 0.0
        self.said: list[str] = []  # every passing message, whole, oldest first

    def redraw(self) -> None:
        """Repaint what the state shows (each screen says what)."""

    def watch_stopping(self) -> None:
        """Stopping: the status line says so."""
        self.redraw()

    def watch_message(self) -> None:
        """A passing message in the status line."""
        self.redraw()

    def flash(self, message: str, seconds: float = 6.0) -> None:
        """Show `message` in the status line for a few seconds (no pop-up over a chart)."""
        self.message_until = time.monotonic() + seconds
        self.message = message
        if not self.said or self.said[-1] != message:
            self.said.append(message)

    def messages(self) -> list[str]:
        """Every message to read whole (`l`): what the status line said (each screen adds
        what its panels cut)."""
        return [clean(message, 4000) for message in self.said]

    def why_not(self, action: str, parameters: tuple[object, ...]) -> str | None:
        """Why `action` cannot act now (its key is then hidden, and pressing it says this),
        or None when it can. Each screen adds its own keys' reasons to these."""
        if action == "pause" and self.ended and not self.paused:
            return f"{self.STREAM_WORD} has ended: nothing to pause"
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that cannot act now (`why_not`)."""
        return self.why_not(action, parameters) is None

    def action_why_not(self, action: str, *parameters: object) -> None:
        """A key that cannot act now was pressed: say why."""
        self.flash(self.why_not(action, parameters) or "that key does nothing here")

    def action_help(self) -> None:
        """Every key of this screen, what it does, and why one cannot act now."""
        self.app.push_screen(help_screen(self))

    def action_messages(self) -> None:
        """The messages the screen cut with "…", whole."""
        self.app.push_screen(messages_screen(self.messages()))

    def quit_or_ask(self, live: bool, question: str) -> None:
        """Quit at once unless something trains; then stop and save only once `question`
        is answered yes."""
        controls = cast(StreamControls, self.app)
        if not live or self.ended:
            controls.quit_now()
            return
        if self.stopping:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                controls.begin_stop()

        self.app.push_screen(ConfirmScreen(question), answer)


class StreamApp(App[int], Generic[T]):
    """Reads `stream()` into `inbox` for `screen`; stops, saves and exits for it."""

    ENABLE_COMMAND_PALETTE = False
    STREAM_NAME = "the stream"  # for the line saying it broke

    def __init__(
        self, screen: StreamScreen, inbox: EventInbox[T], lifecycle: Lifecycle | None
    ) -> None:
        super().__init__()
        self.stream_screen = screen
        self.inbox = inbox  # the screen takes from it what the reader thread leaves
        self.lifecycle = lifecycle  # None for a replay: nothing to stop or save
        self.signal: int | None = None  # a replay's stop signal (a lifecycle keeps its own)
        self.failure: str | None = None  # why the stream broke, if it did
        self.quitting = False
        self.stream_done = threading.Event()
        self.guard = TerminalGuard()
        self._said_goodbye = False

    # -- what each app says ----------------------------------------------------------------

    def stream(self) -> Iterator[T]:
        """The events, read (blocking) in the reader thread."""
        raise NotImplementedError

    def stop_stream(self) -> None:
        """End a stream that saves nothing (a replay) at once."""

    # -- reading ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Show the screen, start reading the stream, take the stop signals."""
        self.push_screen(self.stream_screen)
        self.read_stream()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.stop_from_signal, sig)

    @work(thread=True, exclusive=True, name="event-stream")
    def read_stream(self) -> None:
        """Read the stream into the inbox, one notice per event (coalesced); at its end,
        save a live stream and say so."""
        failure = None
        try:
            for item in self.stream():
                self.inbox.put(item)
                self.stream_screen.post_message(EventsPending())
        except Exception as exc:  # a save that failed, a worker pool that broke
            failure = clean(f"{self.STREAM_NAME} stopped: {exc}", 300)
        ended = self._end_stream(failure)
        self.stream_done.set()
        self.stream_screen.post_message(ended)
        if self.quitting:
            self.call_from_thread(self.exit, self.exit_code())

    def _end_stream(self, failure: str | None) -> StreamEnded:
        if failure is not None:
            self.failure = self.failure or failure
        lifecycle = self.lifecycle
        if lifecycle is None:
            return StreamEnded(warning=failure)
        lifecycle.finish(failure=failure)
        saved = str(lifecycle.saved[0]) if lifecycle.saved is not None else None
        warning = lifecycle.saved[1] if lifecycle.saved is not None else lifecycle.save_error
        warning = warning or lifecycle.unsaved
        return StreamEnded(saved, failure or warning, lifecycle.session.status)

    # -- stopping --------------------------------------------------------------------------

    def exit_code(self) -> int:
        """The table's code: the lifecycle's for a live stream; a replay's from its signal."""
        if self.lifecycle is not None:
            return self.lifecycle.exit_code()
        return exit_code(self.signal, self.failure is not None)

    def quit_now(self) -> None:
        """Leave at once (a replay, or a live stream that has ended)."""
        if self.lifecycle is None:
            self.stop_stream()
        self.exit(self.exit_code())

    def begin_stop(self) -> None:
        """Stop the workers in a thread; the stream then ends, is saved, and the app exits."""
        if self.quitting:
            return
        self.quitting = True
        self.stream_screen.stopping = True
        if self.lifecycle is None or self.stream_done.is_set():
            self.quit_now()
            return
        self.run_worker(self.lifecycle.session.stop, thread=True, name="stop-workers")

    def stop_from_signal(self, signum: int) -> None:
        """SIGINT, SIGTERM or SIGHUP (the SSH link dropped): stop and save without asking."""
        if self.lifecycle is None:
            self.signal = self.signal or signum
            self.quit_now()
            return
        self.lifecycle.stop_requested(signum)
        if signum == signal.SIGHUP:
            # The terminal is gone: Textual's shutdown would block writing to it. Save, then
            # leave at once.
            threading.Thread(target=self._save_and_leave).start()
        else:
            self.begin_stop()

    def _save_and_leave(self) -> None:
        lifecycle = self.lifecycle
        assert lifecycle is not None
        self.quitting = True
        lifecycle.session.stop()
        if not self.stream_done.wait(timeout=STOP_WAIT_S):
            lifecycle.finish(interrupted=True)  # the reader never let go: save all the same
        os._exit(self.exit_code())

    # -- the end ---------------------------------------------------------------------------

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then the guard that keeps raw control characters off the
        terminal whatever a widget was given."""
        return [*super().get_line_filters(), self.guard]

    def run(self, *args: Any, **kwargs: Any) -> int | None:
        """Run the app, then `finish` (say where a live stream went); return what the app
        exited with (the exit code, unless a test's pilot returned something else)."""
        result = super().run(*args, **kwargs)
        self.finish()
        return result

    def finish(self) -> int:
        """After the app exits: a live stream is stopped and saved (if it was not yet); say
        where it went, once; return the exit code."""
        if not self._said_goodbye:
            self._said_goodbye = True
            if self.lifecycle is not None:
                self.lifecycle.finish()
            for line in self.closing_lines():
                say(line)
        return self.exit_code()

    def closing_lines(self) -> list[str]:
        """What went wrong, if anything, and where a live stream's file went."""
        lines = [f"bntui: error: {self.failure}"] if self.failure else []
        if self.lifecycle is not None:
            lines += self.lifecycle.closing_lines()
        return lines
