"""`bntui claims --headless` (or not on a terminal): a line per verdict as it lands, a
progress line per cell, and the table at the end."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bntui.claims.battery import CLAIMS
from bntui.claims.claimfile import ClaimsFile
from bntui.claims.eta import duration
from bntui.claims.events import CellEnded, CellProgress
from bntui.claims.measures import measures
from bntui.claims.runner import BatteryRun
from bntui.claims.texts import verdict_line
from bntui.core.text import say
from bntui.session.lifecycle import Lifecycle, headless

# A progress line at least this often while cells train (the largest take minutes).
HEARTBEAT_S = 30.0


def header(run: BatteryRun) -> list[str]:
    """What the battery will do and how long it expects to take."""
    claims = run.claims
    scale = claims.battery_scale
    seeds = f"seeds {claims.seed}–{claims.seed + scale.seeds - 1}"
    cells = _count(len(claims.plan()), "cell")
    expect = (
        f"expect {run.eta.estimate().text()}"
        if run.todo
        else "nothing to train: every cell is done"
    )
    return [
        f"bntui claims: {_count(len(claims.claims), 'claim')}, {cells} ({len(run.todo)} to "
        f"train), {scale.name} scale, {seeds}, on {run.workers} workers",
        f"{expect}; claims file: {run.out}",
    ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def table(claims: ClaimsFile) -> list[str]:
    """Every claim's verdict line, what it measures, its rule and the notebook it tests."""
    lines = ["", f"{'claim':<15} {'verdict':<20} mean [95% interval over paired seeds]"]
    for found in measures(claims):
        claim = CLAIMS[found.claim]
        lines.append(verdict_line(found))
        lines.append(f"{'':<15} {claim.quantity}")
        lines.append(f"{'':<15} rule: {claim.rule.text(claim.unit)}")
        lines.append(f"{'':<15} tests notebook {claim.notebook}")
    return lines


def file_lines(claims: ClaimsFile, path: str) -> list[str]:
    """A claims file read back (`bntui replay FILE --headless`): what it is, then the table."""
    scale = claims.battery_scale
    done = len(claims.done())
    return [
        f"claims file {path}: {claims.status}, {done} of {_count(len(claims.plan()), 'cell')} "
        f"done; {scale.name} scale, seeds {claims.seed}–{claims.seed + scale.seeds - 1}; "
        f"recorded {claims.started or '?'} on {claims.device or 'an unrecorded device'}",
        *table(claims),
    ]


def run_headless(run: BatteryRun, out: TextIO | None = None) -> int:
    """Run the battery with progress lines; end it as a run ends (`Lifecycle`: a stop signal
    saves what finished and exits 128+N, a closed output exits 1); return the exit code."""
    stream = out or sys.stdout
    lifecycle = Lifecycle(run)
    # Only flags: the scheduler notices within half a second, and the handlers stay until the
    # file is saved, so a second Ctrl-C while saving can neither corrupt it nor kill bntui.
    lifecycle.install_handlers()
    settled: set[str] = set()
    with headless(lifecycle, stream, "the battery") as output:
        for line in header(run):
            say(line, stream)
        last_word = time.monotonic()
        for event in run.events():
            if isinstance(event, CellProgress) and time.monotonic() - last_word >= HEARTBEAT_S:
                last_word = time.monotonic()
                say(_heartbeat(run), stream)
            if isinstance(event, CellEnded):
                last_word = time.monotonic()
                for line in _landed(run, event, settled):
                    say(line, stream)
    stream, closed = output.stream, output.closed
    lines = (
        lifecycle.closing_lines() if closed else [*table(run.claims), *lifecycle.closing_lines()]
    )
    for line in lines:
        say(line, stream)
    resume = run.resume_line()
    if resume:
        say(resume, sys.stderr)
    return lifecycle.exit_code()


def _heartbeat(run: BatteryRun) -> str:
    """A sign of life between cells: what runs, how far, and the time left."""
    running = ", ".join(
        f"{cell} {1 - left:.0%}" for cell, left in run.eta.left.items() if 0 < left < 1
    )
    return (
        f"[{run.eta.fraction_done:4.0%}] training {running or 'the next cells'} · "
        f"{run.eta.estimate().text(' left')}"
    )


def _landed(run: BatteryRun, event: CellEnded, settled: set[str]) -> list[str]:
    """The progress line of a cell that ended, and the verdict lines it settled."""
    result = event.result
    what = "done" if result.status == "done" else f"FAILED: {result.error}"
    lines = [
        f"[{run.eta.fraction_done:4.0%}] cell {result.id} {what} in "
        f"{duration(result.seconds)} · {run.eta.estimate().text(' left')}"
    ]
    for found in measures(run.claims):
        if found.status in ("done", "failed") and found.claim not in settled:
            settled.add(found.claim)
            lines.append(verdict_line(found))
    return lines
