"""Headless mode: plain progress lines for batch jobs, CI and tmux logs, and run summaries.

Every string that came from a worker or a file is cleaned when it is read (bntui.bounds,
bntui.events), and every line is printed through `say`, which cleans it whole again.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bntui.compare import differences
from bntui.events import CallbackNote, EpochEnd, Event, ModelDone, ModelReady, TestResult
from bntui.figures import (
    best,
    bn_gap,
    common_epochs,
    epoch_times,
    last,
    run_rows,
    test_accuracy,
    test_gap,
    train_size,
)
from bntui.lifecycle import Lifecycle
from bntui.runfile import RunFile
from bntui.session import TrainingSession
from bntui.spec import MODEL_KEYS, MODEL_TITLES, ExperimentSpec
from bntui.sweep import SweepFile, sweep_rows
from bntui.text import clean, fmt, fmt_count, fmt_duration, fmt_signed, say

# A failure's reason is printed whole (it says what to do), and the same text in the progress
# line and the summary, so that the summary can tell it was already said.
REASON_LIMIT = 2000


class EventPrinter:
    """Progress lines for the events of a live run; a failure's reason is printed once."""

    def __init__(self) -> None:
        self.reasons: set[str] = set()

    def line(self, run: RunFile, event: Event) -> str | None:
        """The progress line for one event, or None for events not worth a line."""
        if isinstance(event, ModelDone) and event.error:
            reason = clean(event.error, REASON_LIMIT)
            tag = f"[{event.model:>5}]"
            if reason in self.reasons:
                return f"{tag} {event.status} (the same reason)"
            self.reasons.add(reason)
            return f"{tag} {event.status}: {reason}"
        return event_line(run, event)


def event_line(run: RunFile, event: Event) -> str | None:
    """The progress line for one event, or None for events not worth a line."""
    tag = f"[{event.model:>5}]"
    if isinstance(event, ModelReady):
        s = event.summary
        note = event.environment.get("gpu_note")
        return (
            f"{tag} ready: {s.get('total_params', 0):,} params "
            f"({s.get('non_trainable_params', 0):,} non-trainable) on {clean(event.runs_on)}, "
            f"keras {clean(event.environment.get('keras'))} / "
            f"{clean(event.environment.get('backend'))}"
            + (f"; note: {clean(note)}" if note else "")
        )
    if isinstance(event, EpochEnd):
        logs = event.values
        seconds = logs.get("epoch_time_s")
        speed = fmt_count(train_size(run) / seconds) if seconds else "—"
        return (
            f"{tag} epoch {event.epoch + 1:>3}/{run.spec.epochs}  "
            f"loss {fmt(logs.get('loss'))}  acc {fmt(logs.get('accuracy'))}  "
            f"val_loss {fmt(logs.get('val_loss'))}  val_acc {fmt(logs.get('val_accuracy'))}  "
            f"took {fmt(seconds, 2)}s  {speed} img/s"
        )
    if isinstance(event, CallbackNote):
        return f"{tag} {clean(event.message)}"
    if isinstance(event, TestResult):
        return f"{tag} test  loss {fmt(event.loss)}  accuracy {fmt(event.accuracy)}"
    if isinstance(event, ModelDone):
        why = f": {clean(event.error)}" if event.error else ""
        return f"{tag} {event.status}{why}"
    return None


def spec_line(spec: ExperimentSpec, train_images: int, batch: bool = True) -> str:
    """The experiment in one line, with the data actually used (a --limit shows); a sweep
    leaves the batch size to its table."""
    data = f"{train_images:,} training images"
    if spec.limit:
        data += f" (--limit {spec.limit:,})"
    size = f" · batch {spec.batch_size}" if batch else ""
    return (
        f"{spec.dataset} · {data} · {spec.optimizer} lr {spec.learning_rate:g}{size} · "
        f"{spec.epochs} epochs · seed {spec.seed}"
    )


SPEED_NOTE = "s/epoch: median epoch after the first, which also compiles (shown as 1st)"
TABLE_NOTE = "BN-plain: val acc at the last epoch both reached; s/epoch: median after the first"


def summary_lines(run: RunFile, shown: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """A run's summary: status, spec, and for each model final/best metrics, test results
    and speed. Failure reasons in `shown` were already printed and are not repeated."""
    lines = [
        f"bntui run · {clean(run.status)} · started {clean(run.started_at)} · "
        f"{fmt_duration(run.duration_s)}",
        spec_line(run.spec, train_size(run))
        + f" · backend {clean(run.environment.get('backend', run.spec.backend))}",
        f"{'model':<16}{'status':<12}{'epochs':>6}{'val_acc':>9}{'best':>8}{'test_acc':>9}"
        f"{'test_loss':>10}{'s/epoch':>8}{'1st':>7}",
    ]
    for key in MODEL_KEYS:
        m = run.models[key]
        h = m.history
        times = epoch_times(h)
        val_accuracy = h.column("val_accuracy")
        lines.append(
            f"{MODEL_TITLES[key]:<16}{clean(m.status):<12}{len(h.column('loss')):>6}"
            f"{fmt(last(val_accuracy)):>9}{fmt(best(val_accuracy, True)):>8}"
            f"{fmt(test_accuracy(run, key)):>9}{fmt(m.test.loss if m.test else None):>10}"
            f"{fmt(times.per_epoch_s, 2):>8}{fmt(times.first_s, 2):>7}"
        )
    gap, test = bn_gap(run), test_gap(run)
    if gap is not None:
        line = f"BN − plain at epoch {common_epochs(run)}: val acc {fmt_signed(gap * 100)} pts"
        if test is not None:
            line += f", test acc {fmt_signed(test * 100)} pts"
        lines.append(line)
    lines.append(SPEED_NOTE)
    # Each reason once, whoever it concerns: the run's own error is the models' joined.
    reasons: dict[str, list[str]] = {}
    for key in MODEL_KEYS:
        m = run.models[key]
        if m.error or m.status == "failed":
            why = clean(m.error or "no reason recorded", REASON_LIMIT)
            reasons.setdefault(why, []).append(f"{MODEL_TITLES[key]} {clean(m.status)}")
    for why, who in reasons.items():
        if why not in shown:
            lines.append(f"{', '.join(who)}: {why}")
    joined = "; ".join(dict.fromkeys(m.error for m in run.models.values() if m.error))
    if run.error and run.error != joined and clean(run.error) not in shown:
        lines.append(f"error: {clean(run.error)}")
    return lines


def sweep_lines(sweep: SweepFile) -> list[str]:
    """A sweep's summary: one line per batch size, as the dashboard's sweep table."""
    spec = sweep.runs[0].spec
    target = f">={sweep.target_accuracy:.0%}"
    lines = [
        f"bntui sweep · {clean(sweep.status)} · started {clean(sweep.started_at)}",
        f"{spec.preset} · {spec_line(spec, train_size(sweep.runs[0]), batch=False)} · batch sizes "
        + ", ".join(str(b) for b in sweep.batch_sizes),
        f"{'batch':>6}{'status':>12}{'plain':>8}{'best':>8}{'BN':>8}{'best':>8}"
        f"{'BN-plain':>9}{target:>8}{'BN ' + target:>10}{'s/ep plain/BN':>15}",
    ]
    for row in sweep_rows(sweep):
        gap = "—" if row.gap is None else fmt_signed(row.gap * 100)
        reached = [f"ep {r}" if r else "—" for r in (row.reached["plain"], row.reached["bn"])]
        lines.append(
            f"{row.batch_size:>6}{clean(row.status, 11):>12}{fmt(row.final['plain']):>8}"
            f"{fmt(row.best['plain']):>8}{fmt(row.final['bn']):>8}{fmt(row.best['bn']):>8}"
            f"{gap:>9}{reached[0]:>8}{reached[1]:>10}"
            f"{fmt(row.epoch_s['plain'], 2) + '/' + fmt(row.epoch_s['bn'], 2):>15}"
        )
    lines.append(TABLE_NOTE)
    return lines


def compare_lines(runs: list[RunFile], labels: list[str], names: list[str]) -> list[str]:
    """Saved runs side by side: what differs, then each run's figures per model."""
    lines = ["bntui compare · " + ", ".join(f"{a}: {n}" for a, n in zip(labels, names))]
    diffs = differences(runs)
    lines.append("what differs:" if diffs else "same spec and setup")
    for name, values in diffs:
        lines.append(f"  {name:<22}" + " | ".join(values))
    lines.append(
        f"{'run':<5}{'epochs':>7}{'plain':>8}{'best':>8}{'BN':>8}{'best':>8}{'BN-plain':>9}"
        f"{'test':>8}{'BN test':>8}{'s/ep plain/BN':>15}"
    )
    for label, row in zip(labels, run_rows(runs, None)):
        gap = "—" if row.gap is None else fmt_signed(row.gap * 100)
        lines.append(
            f"{label:<5}{row.epochs:>7}{fmt(row.final['plain']):>8}{fmt(row.best['plain']):>8}"
            f"{fmt(row.final['bn']):>8}{fmt(row.best['bn']):>8}"
            f"{gap:>9}{fmt(row.test['plain']):>8}{fmt(row.test['bn']):>8}"
            f"{fmt(row.epoch_s['plain'], 2) + '/' + fmt(row.epoch_s['bn'], 2):>15}"
        )
    lines.append(TABLE_NOTE)
    return lines


def run_headless(session: TrainingSession, out: TextIO = sys.stdout) -> int:
    """Train with progress lines; on a stop signal save what was recorded and exit 128+N."""
    lifecycle = Lifecycle(session)
    # Only flags: the event loop notices within 0.2 s, so no event is half-recorded. The
    # handlers stay until the file is saved, so a second Ctrl-C while stopping and saving
    # can neither corrupt the file nor kill bntui.
    lifecycle.install_handlers()
    printer = EventPrinter()
    several = len(session.specs) > 1
    try:
        say(f"bntui: training plain and BN models, run file: {session.out}", out)
        session.start()
        for event in session.events():
            line = printer.line(session.recorders[event.run_index].run, event)
            if line and several:
                line = f"[batch {session.specs[event.run_index].batch_size:>4}] {line}"
            if line:
                say(line, out)
    finally:
        said = lifecycle.signal_line()
        if said:
            say(said, out)
        lifecycle.finish()
        lifecycle.ignore_signals()
    document = session.document()
    if isinstance(document, SweepFile):
        summary = sweep_lines(document)
    else:
        summary = summary_lines(session.run, printer.reasons)
    for line in [*summary, *lifecycle.closing_lines()]:
        say(line, out)
    return lifecycle.exit_code()
