"""Reading the dashboard as a person would: the text of what is on screen, and waiting for a
condition on it (never for a length of time)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.widget import Widget
from textual.widgets import Static

from bntui.tui.app import BntuiApp
from bntui.tui.widgets.chart import LineChart

# Only a bound against a hang: each wait returns as soon as its condition holds.
GIVE_UP_S = 60


def text_of(widget: Widget) -> str:
    """What a Static shows, as plain text."""
    assert isinstance(widget, Static)
    console = Console(width=200, file=io.StringIO(), no_color=True)
    with console.capture() as capture:
        console.print(widget.content)
    return capture.get()


def text_of_chart(chart: LineChart) -> str:
    """What a chart draws, as plain text."""
    return chart.render().plain


def status_of(app: BntuiApp) -> str:
    """The status line."""
    return text_of(app.screen.query_one("#status"))


def is_shown(widget: Widget) -> bool:
    """Whether the widget takes up room on the screen (its tab is the one on show)."""
    return bool(widget.display and widget.region.area > 0)


async def until(pilot: Any, condition: Callable[[], bool], what: str = "condition") -> None:
    """Let the app run until `condition()` holds."""
    deadline = time.monotonic() + GIVE_UP_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await pilot.pause()


async def replay_to_end(app: BntuiApp, pilot: Any) -> None:
    """Jump to the end as `e` does (not by the key: once the replay has ended, `e` says so
    in the status line) and wait until the status line says the replay has ended (a
    comparison: until it is all on screen; its status line says COMPARE throughout)."""
    app.session.skip_to_end()

    def ended() -> bool:
        status = status_of(app)
        return "REPLAY END" in status or (app.dashboard.ended and "COMPARE" in status)

    await until(pilot, ended, "REPLAY END")
