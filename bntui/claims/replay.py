"""Replay a claims file: re-enact its battery at the recorded pace (or faster), as the same
events a live battery yields, so the Claims tab cannot tell a replay from a run.

Each cell starts at its recorded `began` and ends `seconds` later; the battery then ends
with the file's status. Nothing trains and nothing from the file is executed.
"""

from __future__ import annotations

from bntui.claims.claimfile import ClaimsFile
from bntui.claims.events import BatteryEnded, CellEnded, CellStarted, ClaimsEvent
from bntui.record.replay import ReplaySource


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


class BatteryReplay(ReplaySource[ClaimsEvent]):
    """The battery's events at their recorded times divided by `speed`, from its first
    cell's start, paced (and stopped, skipped, paused) as a run's replay is."""

    def __init__(self, claims: ClaimsFile, speed: float = 1.0) -> None:
        super().__init__(timeline(claims), speed)
