"""Headless mode: plain progress lines for batch jobs, CI and tmux logs, and run summaries.

Every string that came from a worker or a file is cleaned when it is read (bntui.record.bounds,
bntui.core.events), and every line is printed through `say`, which cleans it whole again.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bntui.core.events import CallbackNote, EpochEnd, Event, ModelDone, ModelReady, TestResult
from bntui.core.text import clean, fmt, fmt_count, fmt_signed, say
from bntui.outputs.summary import (
    REASON_LIMIT,
    folded,
    spec_lines,
    summary_lines,
)
from bntui.record.runfile import RunFile
from bntui.record.sweep import SweepFile
from bntui.session.lifecycle import Lifecycle, headless
from bntui.session.sessions import TrainingSession
from bntui.stats.compare import differences
from bntui.stats.figures import epoch_speed, seeds_at_once, train_size
from bntui.stats.runrows import RunRow, run_rows, sweep_rows
from bntui.stats.seedstats import comparisons, plus_minus

TABLE_NOTE = (
    "BN − plain: val acc at the last epoch both reached, in points; p/BN: plain/BN; s/ep: "
    "median epoch after the first, the first alone if it is the only one (a vectorised "
    "run's: all its seeds at once)"
)
SEEDS_NOTE = (
    "with several seeds: each figure is the mean over the seeds; BN − plain ± half the "
    "paired 95% t interval"
)


def tag(run: RunFile, event: Event) -> str:
    """`[plain]`, or `[plain s43]` naming the seed when the run trains several."""
    if len(run.seeds) > 1 and 0 <= event.seed < len(run.seeds):
        return f"[{event.model:>5} s{run.seeds[event.seed].seed}]"
    return f"[{event.model:>5}]"


class EventPrinter:
    """Progress lines for the events of a live run. A failure's reason is printed once: a
    model that fails for a reason already printed gets no line of its own (the summary names
    every model that failed, and points to the reason above)."""

    def __init__(self) -> None:
        self.reasons: set[str] = set()

    def line(self, run: RunFile, event: Event) -> str | None:
        """The progress line for one event, or None for events not worth a line."""
        if isinstance(event, ModelDone) and event.error:
            reason = clean(event.error, REASON_LIMIT)
            where = tag(run, event)
            if reason in self.reasons:
                return None
            self.reasons.add(reason)
            return f"{where} {event.status}: {reason}"
        return event_line(run, event)


def event_line(run: RunFile, event: Event) -> str | None:
    """The progress line for one event, or None for events not worth a line. The seeds of
    a model are built alike: only the first seed's ready line is printed, for them all."""
    if isinstance(event, ModelReady):
        if event.seed != 0:
            return None
        s = event.summary
        note = event.environment.get("gpu_note")
        several = f" ({len(run.seeds)} seeds)" if len(run.seeds) > 1 else ""
        return (
            f"[{event.model:>5}] ready{several}: {s.get('total_params', 0):,} params "
            f"({s.get('non_trainable_params', 0):,} non-trainable) on {clean(event.runs_on)}, "
            f"keras {clean(event.environment.get('keras'))} / "
            f"{clean(event.environment.get('backend'))}"
            + (f"; note: {clean(note)}" if note else "")
        )
    if isinstance(event, EpochEnd):
        logs = event.values
        seconds = logs.get("epoch_time_s")
        speed = fmt_count(epoch_speed(run, seconds)) if seconds else "—"
        at_once = seeds_at_once(run)
        together = f" (all {at_once} seeds)" if at_once > 1 else ""
        return (
            f"{tag(run, event)} epoch {event.epoch + 1:>3}/{run.spec.epochs}  "
            f"loss {fmt(logs.get('loss'))}  acc {fmt(logs.get('accuracy'))}  "
            f"val_loss {fmt(logs.get('val_loss'))}  val_acc {fmt(logs.get('val_accuracy'))}  "
            f"took {fmt(seconds, 2)}s{together}  {speed} img/s"
        )
    if isinstance(event, CallbackNote):
        return f"{tag(run, event)} {clean(event.message)}"
    if isinstance(event, TestResult):
        return f"{tag(run, event)} test  loss {fmt(event.loss)}  accuracy {fmt(event.accuracy)}"
    if isinstance(event, ModelDone):
        why = f": {clean(event.error)}" if event.error else ""
        return f"{tag(run, event)} {event.status}{why}"
    return None


def gap_cell(row: RunRow) -> str:
    """BN − plain val accuracy in points: `+18.56` for one seed, `+15.0 ±10.6` (mean and
    half the paired 95% interval) for several."""
    if row.seeds > 1:
        return plus_minus(row.gap_interval, 1, 100.0, signed=True)
    return "—" if row.gap is None else fmt_signed(row.gap * 100)


def _reached(row: RunRow) -> str:
    """The epoch each model first reached the target, plain/BN: `3/2`, `—/4`."""
    return "/".join(str(row.reached[key] or "—") for key in ("plain", "bn"))


def _speeds(row: RunRow) -> str:
    return "/".join(fmt(row.epoch_s[key], 2) for key in ("plain", "bn"))


def sweep_lines(sweep: SweepFile, shown: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """A sweep's summary: one line per batch size, as the dashboard's sweep table; with
    several seeds, each batch size's BN − plain figures with their intervals after it; what
    failed, each reason once (`shown`: reasons already printed, named as above)."""
    spec = sweep.runs[0].spec
    what, length = spec_lines(spec, train_size(sweep.runs[0]), batch=False)
    target = f"≥{sweep.target_accuracy:.0%}"
    lines = [
        f"bntui sweep · {clean(sweep.status)} · started {clean(sweep.started_at)}",
        what,
        f"{spec.preset} · {length} · batch sizes " + ", ".join(str(b) for b in sweep.batch_sizes),
        f"{'batch':>5}{'status':>10}{'plain':>7}{'best':>7}{'BN':>7}{'best':>7}"
        f"{'BN − plain':>12}{target + ' p/BN':>13}{'s/ep p/BN':>11}",
    ]
    rows = sweep_rows(sweep)
    for row in rows:
        lines.append(
            f"{row.batch_size:>5}{clean(row.status, 9):>10}{fmt(row.final['plain']):>7}"
            f"{fmt(row.best['plain']):>7}{fmt(row.final['bn']):>7}{fmt(row.best['bn']):>7}"
            f"{gap_cell(row):>12}{_reached(row):>13}{_speeds(row):>11}"
        )
    notes = [TABLE_NOTE + f"; {target}: the epoch each model first reached it"]
    if any(row.seeds > 1 for row in rows):
        notes.append(SEEDS_NOTE + f"; {target}: the epoch the mean reaches it")
        for run in sweep.runs:
            notes += [
                f"batch {run.spec.batch_size}: BN − plain {found.text()}"
                for found in comparisons(run, sweep.target_accuracy)
            ]
    return lines + folded(notes) + _sweep_trouble(sweep, shown)


def _sweep_trouble(sweep: SweepFile, shown: set[str] | frozenset[str]) -> list[str]:
    """Each failure reason of a sweep once, with the batch sizes and models it stopped."""
    found: dict[str, list[str]] = {}
    for run in sweep.runs:
        for key in ("plain", "bn"):
            for record in run.records(key):
                if record.status == "failed" or record.error:
                    why = clean(record.error or "no reason recorded", REASON_LIMIT)
                    found.setdefault(why, []).append(f"{key} at batch {run.spec.batch_size}")
    lines = []
    for why, who in found.items():
        models = sorted(set(who), key=who.index)
        count = f"all {len(models)} models" if len(models) == 2 * len(sweep.runs) else None
        names = count or ", ".join(models)
        lines.append(f"{names} failed" + (" (the reason above)" if why in shown else f": {why}"))
    return lines


def compare_lines(runs: list[RunFile], labels: list[str], names: list[str]) -> list[str]:
    """Saved runs side by side: what differs, each run's figures per model (the mean over
    its seeds), then each run's BN − plain figures, with intervals where it has seeds."""
    lines = ["bntui compare · " + ", ".join(f"{a}: {n}" for a, n in zip(labels, names))]
    diffs = differences(runs)
    lines.append("what differs:" if diffs else "same spec and setup")
    for name, values in diffs:
        lines.append(f"  {name:<22}" + " | ".join(values))
    lines.append(
        f"{'run':<5}{'seeds':>6}{'ep':>4}{'plain':>7}{'best':>7}{'BN':>7}{'best':>7}"
        f"{'BN − plain':>12}{'test p/BN':>14}{'s/ep p/BN':>11}"
    )
    rows = run_rows(runs, None)
    for label, row in zip(labels, rows):
        tests = "/".join(fmt(row.test[key]) for key in ("plain", "bn"))
        lines.append(
            f"{label:<5}{row.seeds:>6}{row.epochs:>4}{fmt(row.final['plain']):>7}"
            f"{fmt(row.best['plain']):>7}{fmt(row.final['bn']):>7}{fmt(row.best['bn']):>7}"
            f"{gap_cell(row):>12}{tests:>14}{_speeds(row):>11}"
        )
    notes = [TABLE_NOTE]
    if any(row.seeds > 1 for row in rows):
        notes.append(SEEDS_NOTE)
    for label, run in zip(labels, runs):
        notes += [f"{label}: BN − plain {found.text()}" for found in comparisons(run)]
    return lines + folded(notes)


def run_headless(session: TrainingSession, out: TextIO = sys.stdout) -> int:
    """Train with progress lines; on a stop signal save what was recorded and exit 128+N, on
    a closed output exit 1 (`Lifecycle`, the same as the dashboard and a battery)."""
    lifecycle = Lifecycle(session)
    # Only flags: the event loop notices within 0.2 s, so no event is half-recorded. The
    # handlers stay until the file is saved, so a second Ctrl-C while stopping and saving
    # can neither corrupt the file nor kill bntui.
    lifecycle.install_handlers()
    printer = EventPrinter()
    several = len(session.specs) > 1
    with headless(lifecycle, out, "training") as output:
        say(f"bntui: training plain and BN models, run file: {session.out}", out)
        session.start()
        for event in session.events():
            line = printer.line(session.recorders[event.run_index].run, event)
            if line and several:
                line = f"[batch {session.specs[event.run_index].batch_size:>4}] {line}"
            if line:
                say(line, out)
    out, closed = output.stream, output.closed
    document = session.document()
    if isinstance(document, SweepFile):
        summary = sweep_lines(document, printer.reasons)
    else:
        summary = summary_lines(session.run, printer.reasons)
    for line in lifecycle.closing_lines() if closed else [*summary, *lifecycle.closing_lines()]:
        say(line, out)
    return lifecycle.exit_code()
