"""How a training process ends, the same for runs and claims batteries, in the dashboard and
headless: stop signals, the final save, the closing message and the exit code.

No Textual, no Keras: the apps and the headless printers all hold a `Lifecycle` and call it
at the same moments, so `q`/Ctrl-C, SIGINT, SIGTERM, SIGHUP, a closed output or a failure end
a run, a sweep or a battery the same way whichever face the user chose. `exit_code` is the
one table of exit codes (README, "Exit codes").
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Protocol, TextIO

from bntui.core.text import clean, say

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_code(signum: int | None, failed: bool) -> int:
    """The exit code of every command that trains or replays, live or headless:
    128 + N after stop signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP); else 1 when it failed
    (a model or a cell failed, the file could not be saved, the output was closed, the stream
    broke); else 0 (it completed, or `q`/Ctrl-C stopped it after confirming). Bad input
    exits 2 before anything starts (`bntui.cli.common.fail`)."""
    if signum is not None:
        return 128 + signum
    return 1 if failed else 0


class Stoppable(Protocol):
    """What a `Lifecycle` ends: a training session (a run, a sweep) or a claims battery."""

    @property
    def what(self) -> str:
        """What the saved file is, for messages ("run", "claims file")."""
        ...

    @property
    def status(self) -> str:
        """The saved document's status (completed, interrupted, failed, running)."""
        ...

    def halt(self) -> None:
        """From a signal handler: end the stream soon (only sets flags)."""
        ...

    def stop(self) -> None:
        """Interrupt: stop the workers; what they sent so far stays recorded."""
        ...

    def close(self) -> None:
        """Stop and reap the workers without calling it interrupted (it has ended)."""
        ...

    def save(self) -> tuple[Path, str | None]:
        """Write the final file; return its path and a warning if a fallback path was used."""
        ...


class Lifecycle:
    """Stop, save and exit for one training session (a run or a sweep) or battery."""

    def __init__(self, session: Stoppable) -> None:
        self.session = session
        self.signal: int | None = None  # the first stop signal received
        self.saved: tuple[Path, str | None] | None = None
        self.save_error: str | None = None
        # Why nothing was saved though nothing failed to save (nothing trained).
        self.unsaved: str | None = None
        # What else went wrong (the output closed, the stream broke); the caller says it.
        self.failure: str | None = None
        self._once = threading.Lock()

    def stop_requested(self, signum: int) -> None:
        """A stop signal arrived: remember the first, and end the stream soon.

        Only sets flags, so it is safe inside a signal handler."""
        if self.signal is None:
            self.signal = signum
        self.session.halt()

    def install_handlers(self, on_signal: Callable[[int], None] | None = None) -> None:
        """Route the stop signals to `on_signal` (default: `stop_requested`), from plain
        signal handlers (headless; the apps use their event loop's)."""
        handler = on_signal or self.stop_requested

        def handle(signum: int, frame: FrameType | None) -> None:
            handler(signum)

        for number in STOP_SIGNALS:
            signal.signal(number, handle)

    @staticmethod
    def ignore_signals() -> None:
        """Once saved, further stop signals do nothing (CPython would otherwise restore the
        default handler at exit, and a late Ctrl-C would print a traceback)."""
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)

    def finish(self, interrupted: bool = False, failure: str | None = None) -> None:
        """Stop the workers (marking it interrupted if asked, signalled or failed) and save
        it, once; a save that fails is kept as `save_error`, a `failure` as `failure`."""
        with self._once:
            if failure is not None and self.failure is None:
                self.failure = failure
            if self.saved is not None or self.save_error is not None or self.unsaved:
                return
            if interrupted or self.signal is not None or self.failure is not None:
                self.session.stop()
            else:
                self.session.close()
            if getattr(self.session, "nothing_trained", False):
                # Not written, but closed: the summary then says how it ended ("failed").
                conclude = getattr(self.session, "conclude", None)
                if conclude is not None:
                    conclude()
                self.unsaved = "nothing saved: no model trained a step"
                return
            try:
                self.saved = self.session.save()
            except OSError as exc:
                self.save_error = f"the {self.session.what} could not be saved: {exc}"

    def closing_lines(self) -> list[str]:
        """What bntui prints last: a fallback path's warning, and where the file went."""
        if self.save_error is not None:
            return [f"bntui: error: {clean(self.save_error)}"]
        if self.unsaved is not None:
            return [f"bntui: {self.unsaved} (the reason above)"]
        if self.saved is None:
            return []
        path, warning = self.saved
        lines = [f"bntui: warning: {clean(warning)}"] if warning else []
        lines.append(f"bntui: {self.session.what} saved to {path} ({self.session.status})")
        return lines

    def signal_line(self) -> str | None:
        """The line saying which signal stopped it, if one did."""
        if self.signal is None:
            return None
        name = signal.Signals(self.signal).name
        return f"bntui: {name} received, stopping the workers and saving"

    def exit_code(self) -> int:
        """The table's code (`exit_code`): failed means its status says so, it could not be
        saved, nothing trained, or something else went wrong (`failure`)."""
        failed = (
            self.failure is not None
            or self.save_error is not None
            or self.unsaved is not None
            or self.session.status == "failed"
        )
        return exit_code(self.signal, failed)


@dataclass
class Output:
    """Where headless lines go: the given stream, or stderr once the reader went away."""

    stream: TextIO
    closed: bool = False


@contextmanager
def headless(lifecycle: Lifecycle, stream: TextIO, stopped: str) -> Iterator[Output]:
    """Around a headless run or battery: a closed output (`| head`) stops it and says so
    on stderr; at the end, the signal that stopped it is named, it is saved (as failed with
    "the output was closed" when so), and signals are ignored from then on."""
    output = Output(stream)
    try:
        yield output
    except BrokenPipeError:
        output.closed = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        output.stream = sys.stderr
        say(f"bntui: the output was closed: {stopped} stopped", output.stream)
    finally:
        said = lifecycle.signal_line()
        if said:
            say(said, output.stream)
        lifecycle.finish(failure="the output was closed" if output.closed else None)
        lifecycle.ignore_signals()
