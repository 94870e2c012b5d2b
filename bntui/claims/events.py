"""What happens during a battery, as events: the live runner and replay both produce these,
and the Claims tab and the headless lines consume them (one stream, two sources)."""

from __future__ import annotations

from dataclasses import dataclass

from bntui.claims.claimfile import CellResult


@dataclass(frozen=True)
class CellStarted:
    """A cell began training."""

    cell: str
    t: float


@dataclass(frozen=True)
class CellProgress:
    """A cell is `fraction` of the way through."""

    cell: str
    fraction: float
    t: float


@dataclass(frozen=True)
class CellEnded:
    """A cell finished (or failed): its whole result."""

    result: CellResult
    t: float


@dataclass(frozen=True)
class BatteryEnded:
    """The battery stopped: completed, interrupted or failed; where its file is."""

    status: str
    path: str | None
    message: str | None
    t: float


ClaimsEvent = CellStarted | CellProgress | CellEnded | BatteryEnded
