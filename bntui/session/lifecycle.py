"""How a training process ends, the same in the dashboard and headless: stop signals, the
final save, the closing message and the exit code.

No Textual, no Keras: the dashboard and the headless printer both hold a `Lifecycle` and
call it at the same moments, so `q`/Ctrl-C, SIGINT, SIGTERM and SIGHUP end a run the same
way whichever face the user chose.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from bntui.core.text import clean
from bntui.session.sessions import TrainingSession

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Lifecycle:
    """Stop, save and exit for one training session (a run or a sweep)."""

    def __init__(self, session: TrainingSession) -> None:
        self.session = session
        self.signal: int | None = None  # the first stop signal received
        self.saved: tuple[Path, str | None] | None = None
        self.save_error: str | None = None

    def stop_requested(self, signum: int) -> None:
        """A stop signal arrived: remember the first, and end the stream soon.

        Only sets flags, so it is safe inside a signal handler."""
        if self.signal is None:
            self.signal = signum
        self.session.halt()

    def install_handlers(self, on_signal: Callable[[int], None] | None = None) -> None:
        """Route the stop signals to `on_signal` (default: `stop_requested`), from plain
        signal handlers (headless; the dashboard uses its event loop's)."""
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

    def finish(self, interrupted: bool = False) -> None:
        """Stop the workers (marking the run interrupted if asked or signalled) and save it,
        once; a save that fails is kept as `save_error`."""
        if self.saved is not None or self.save_error is not None:
            return
        if interrupted or self.signal is not None:
            self.session.stop()
        else:
            self.session.close()
        try:
            self.saved = self.session.save()
        except OSError as exc:
            self.save_error = f"the run could not be saved: {exc}"

    def closing_lines(self) -> list[str]:
        """What bntui prints last: a fallback path's warning, and where the run went."""
        if self.save_error is not None:
            return [f"bntui: error: {clean(self.save_error)}"]
        if self.saved is None:
            return []
        path, warning = self.saved
        lines = [f"bntui: warning: {clean(warning)}"] if warning else []
        lines.append(f"bntui: {self.session.what} saved to {path} ({self.session.status})")
        return lines

    def signal_line(self) -> str | None:
        """The line saying which signal stopped the run, if one did."""
        if self.signal is None:
            return None
        name = signal.Signals(self.signal).name
        return f"bntui: {name} received, stopping the workers and saving"

    def exit_code(self, requested: int = 0) -> int:
        """128 + the signal that stopped the run; else what the caller asked; else 1 when
        the run failed or could not be saved, 0 otherwise."""
        if self.signal is not None:
            return 128 + self.signal
        if requested:
            return requested
        return 1 if self.save_error is not None or self.session.status == "failed" else 0
