"""`bntui claims --headless` (or not on a terminal): a line per verdict as it lands, a
progress line per cell, and the table at the end."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, TextIO

from bntui.claims.battery import CLAIMS
from bntui.claims.claimfile import ClaimsFile
from bntui.claims.eta import duration
from bntui.claims.events import BatteryEnded, CellEnded
from bntui.claims.measures import measures
from bntui.claims.runner import BatteryRun
from bntui.claims.texts import verdict_line
from bntui.text import say


def header(run: BatteryRun) -> list[str]:
    """What the battery will do and how long it expects to take."""
    claims = run.claims
    scale = claims.battery_scale
    seeds = f"seeds {claims.seed}–{claims.seed + scale.seeds - 1}"
    lines = [
        f"bntui claims: {len(claims.claims)} claims, {len(claims.plan())} cells "
        f"({len(run.todo)} to train), {scale.name} scale, {seeds}, on {run.workers} workers",
        f"expect about {duration(run.eta.seconds_left())}; claims file: {run.out}",
    ]
    return lines


def table(claims: ClaimsFile) -> list[str]:
    """Every claim's verdict line, and the notebook sentence it tests."""
    lines = ["", f"{'claim':<15} {'verdict':<14} mean [95% interval over paired seeds]"]
    for found in measures(claims):
        claim = CLAIMS[found.claim]
        lines.append(verdict_line(found))
        lines.append(f"{'':<15} {claim.quantity}")
        lines.append(f"{'':<15} tests notebook {claim.notebook}")
    return lines


def run_headless(run: BatteryRun, out: TextIO | None = None) -> int:
    """Run the battery with progress lines; return the exit code (0 completed, 1 failed
    or interrupted, or when whoever read the output went away)."""
    stream = out or sys.stdout
    settled: set[str] = set()
    previous = _on_stop_signals()
    ended: BatteryEnded | None = None
    closed = False
    try:
        for line in header(run):
            say(line, stream)
        for event in run.events():
            if isinstance(event, CellEnded):
                for line in _landed(run, event, settled):
                    say(line, stream)
            elif isinstance(event, BatteryEnded):
                ended = event
    except KeyboardInterrupt:
        ended = run.stop()
    except BrokenPipeError:
        # Whoever read the output went away (`| head`): stop, save, and say so on stderr.
        closed = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        stream = sys.stderr
        ended = run.stop()
        say("bntui: the output was closed: the battery stopped", stream)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not closed:
        for line in table(run.claims):
            say(line, stream)
    assert ended is not None
    if ended.message:
        say(f"bntui: {ended.message}", sys.stderr)
    say(f"claims file: {ended.path} ({ended.status})", stream)
    if ended.status == "interrupted":
        say(f"bntui: interrupted; resume with: bntui claims --resume {ended.path}", sys.stderr)
    return 0 if ended.status == "completed" else 1


def _landed(run: BatteryRun, event: CellEnded, settled: set[str]) -> list[str]:
    """The progress line of a cell that ended, and the verdict lines it settled."""
    result = event.result
    what = "done" if result.status == "done" else f"FAILED: {result.error}"
    lines = [
        f"[{run.eta.fraction_done:4.0%}] cell {result.id} {what} in "
        f"{duration(result.seconds)} · about {duration(run.eta.seconds_left())} left"
    ]
    for found in measures(run.claims):
        if found.status in ("done", "failed") and found.claim not in settled:
            settled.add(found.claim)
            lines.append(verdict_line(found))
    return lines


def _on_stop_signals() -> dict[int, Any]:
    """SIGTERM and SIGHUP stop the battery like Ctrl-C: what finished is saved. Returns the
    handlers they had."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return {signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}
