"""Replay a claims file: re-enact its battery at the recorded pace (or faster), as the same
events a live battery yields, so the Claims tab cannot tell a replay from a run.

Each cell starts at its recorded `began` and ends `seconds` later; the battery then ends
with the file's status. Nothing trains and nothing from the file is executed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from bntui.claims.claimfile import ClaimsFile
from bntui.claims.events import BatteryEnded, CellEnded, CellStarted, ClaimsEvent


def timeline(claims: ClaimsFile) -> list[ClaimsEvent]:
    """Every recorded cell's start and end, in the order they happened (an end before a
    start at the same moment), then the battery's end."""
    timed: list[tuple[float, int, ClaimsEvent]] = []
    for cell in claims.cells:
        end = cell.began + cell.seconds
        timed.append((cell.began, 1, CellStarted(cell.id, cell.began)))
        timed.append((end, 0, CellEnded(cell, end)))
    timed.sort(key=lambda item: (item[0], item[1]))
    events = [event for _, _, event in timed]
    last = timed[-1][0] if timed else 0.0
    events.append(BatteryEnded(claims.status, None, None, last))
    return events


def replay_events(
    claims: ClaimsFile,
    speed: float,
    stop: threading.Event | None = None,
    skip: threading.Event | None = None,
) -> Iterator[ClaimsEvent]:
    """Yield the battery's events at their recorded times divided by `speed`, from its first
    cell's start. Setting `stop` ends the replay at once (nothing more is yielded); setting
    `skip` delivers the rest without waiting."""
    stop = stop or threading.Event()
    skip = skip or threading.Event()
    events = timeline(claims)
    origin = events[0].t if len(events) > 1 else 0.0
    begin = time.monotonic()
    for event in events:
        due = begin + max(0.0, event.t - origin) / max(speed, 1e-9)
        while not skip.is_set():
            delay = due - time.monotonic()
            if delay <= 0 or stop.wait(min(delay, 0.2)):
                break
        if stop.is_set():
            return
        yield event
