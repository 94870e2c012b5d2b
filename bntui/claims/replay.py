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


class BatteryReplay:
    """Yields the battery's events at their recorded times divided by `speed`, from its first
    cell's start, as `bntui.record.replay.ReplaySource` does a run's: `stop()` ends it at once
    (nothing more is yielded), `skip_to_end()` delivers the rest without waiting, and
    `pause(True)` holds it where it is (the time paused does not count). Any thread may call
    them while another iterates."""

    def __init__(self, claims: ClaimsFile, speed: float = 1.0) -> None:
        self.speed = speed
        self.events = timeline(claims)
        self._skip = threading.Event()
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()

    def skip_to_end(self) -> None:
        """Deliver every remaining event without waiting (once not paused)."""
        self._skip.set()

    def stop(self) -> None:
        """End the iteration now, paused or not."""
        self._stop.set()
        self._running.set()

    def pause(self, paused: bool) -> None:
        """Hold the replay where it is (True), or go on from there (False)."""
        if paused:
            self._running.clear()
        else:
            self._running.set()

    def __iter__(self) -> Iterator[ClaimsEvent]:
        events = self.events
        origin = events[0].t if len(events) > 1 else 0.0
        begin = time.monotonic()
        for event in events:
            while not self._stop.is_set():
                if not self._running.is_set():
                    held = time.monotonic()
                    self._running.wait()
                    begin += time.monotonic() - held  # the pause does not count
                    continue
                due = begin + max(0.0, event.t - origin) / max(self.speed, 1e-9)
                delay = due - time.monotonic()
                if delay <= 0 or self._skip.is_set():
                    break
                self._stop.wait(min(delay, 0.2))  # short waits, so a pause or a skip takes hold
            if self._stop.is_set():
                return
            yield event
