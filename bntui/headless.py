"""Headless mode: plain progress lines for batch jobs, CI and tmux logs, and run summaries.

Every string that came from a worker or a file is cleaned when it is read (bntui.bounds,
bntui.events), and every line is printed through `say`, which cleans it whole again.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import TextIO

from bntui.compare import differences
from bntui.events import CallbackNote, EpochEnd, Event, ModelDone, ModelReady, TestResult
from bntui.runfile import RunFile
from bntui.session import LiveSession
from bntui.spec import MODEL_KEYS, MODEL_TITLES
from bntui.stats import best
from bntui.sweep import SweepFile, run_rows, sweep_rows
from bntui.text import clean, fmt, fmt_count, fmt_duration, say

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def event_line(run: RunFile, event: Event) -> str | None:
    """The progress line for one event, or None for events not worth a line."""
    tag = f"[{event.model:>5}]"
    if isinstance(event, ModelReady):
        s = event.summary
        return (
            f"{tag} ready: {s.get('total_params', 0):,} params "
            f"({s.get('non_trainable_params', 0):,} non-trainable) on {clean(event.runs_on)}, "
            f"keras {clean(event.environment.get('keras'))} / "
            f"{clean(event.environment.get('backend'))}"
        )
    if isinstance(event, EpochEnd):
        logs = event.logs
        size = run.dataset.train_size if run.dataset else 0
        speed = fmt_count(size / event.epoch_time_s) if event.epoch_time_s else "—"
        return (
            f"{tag} epoch {event.epoch + 1:>3}/{run.spec.epochs}  "
            f"loss {fmt(logs.get('loss'))}  acc {fmt(logs.get('accuracy'))}  "
            f"val_loss {fmt(logs.get('val_loss'))}  val_acc {fmt(logs.get('val_accuracy'))}  "
            f"{event.epoch_time_s:.2f}s  {speed} samples/s"
        )
    if isinstance(event, CallbackNote):
        return f"{tag} {clean(event.message)}"
    if isinstance(event, TestResult):
        return f"{tag} test  loss {fmt(event.loss)}  accuracy {fmt(event.accuracy)}"
    if isinstance(event, ModelDone):
        why = f": {clean(event.error)}" if event.error else ""
        return f"{tag} {event.status}{why}"
    return None


def summary_lines(run: RunFile) -> list[str]:
    """A run's summary: status, spec, and for each model final/best metrics and test results."""
    spec = run.spec
    lines = [
        f"bntui run · {clean(run.status)} · started {clean(run.started_at)} · "
        f"{fmt_duration(run.duration_s)}",
        f"{spec.dataset} · {spec.optimizer} lr {spec.learning_rate:g} · batch {spec.batch_size}"
        f" · {spec.epochs} epochs · seed {spec.seed}"
        f" · backend {clean(run.environment.get('backend', spec.backend))}",
    ]
    if run.error:
        lines.append(f"error: {clean(run.error)}")
    lines.append(
        f"{'model':<16}{'status':<12}{'epochs':>6}{'val_acc':>9}{'best':>8}{'test_acc':>9}{'test_loss':>10}{'s/epoch':>8}"
    )
    for key in MODEL_KEYS:
        m = run.models[key]
        h = m.history
        times = [t for t in h.epoch_time_s if t]
        lines.append(
            f"{MODEL_TITLES[key]:<16}{clean(m.status):<12}{len(h.loss):>6}"
            f"{fmt(h.val_accuracy[-1] if h.val_accuracy else None):>9}"
            f"{fmt(best(h.val_accuracy, True)):>8}"
            f"{fmt(m.test.accuracy if m.test else None):>9}"
            f"{fmt(m.test.loss if m.test else None):>10}"
            f"{(sum(times) / len(times) if times else 0):>8.2f}"
        )
        if m.error:
            lines.append(f"  {key} error: {clean(m.error)}")
    return lines


def sweep_lines(sweep: SweepFile) -> list[str]:
    """A sweep's summary: one line per batch size, as the dashboard's sweep table."""
    spec = sweep.runs[0].spec
    target = f">={sweep.target_accuracy:.0%}"
    lines = [
        f"bntui sweep · {clean(sweep.status)} · started {clean(sweep.started_at)}",
        f"{spec.dataset} · {spec.preset} · {spec.optimizer} lr {spec.learning_rate:g} · "
        f"{spec.epochs} epochs · seed {spec.seed} · batch sizes "
        + ", ".join(str(b) for b in sweep.batch_sizes),
        f"{'batch':>6}{'status':>12}{'plain':>8}{'best':>8}{'BN':>8}{'best':>8}"
        f"{'BN-plain':>9}{target:>8}{'BN ' + target:>10}{'s/ep plain/BN':>15}",
    ]
    for row in sweep_rows(sweep):
        gap = "—" if row.gap is None else f"{row.gap * 100:+.2f}"
        reached = [f"ep {r}" if r else "—" for r in (row.reached["plain"], row.reached["bn"])]
        lines.append(
            f"{row.batch_size:>6}{clean(row.status, 11):>12}{fmt(row.final['plain']):>8}"
            f"{fmt(row.best['plain']):>8}{fmt(row.final['bn']):>8}{fmt(row.best['bn']):>8}"
            f"{gap:>9}{reached[0]:>8}{reached[1]:>10}"
            f"{fmt(row.epoch_s['plain'], 2) + '/' + fmt(row.epoch_s['bn'], 2):>15}"
        )
    return lines


def compare_lines(runs: list[RunFile], labels: list[str], names: list[str]) -> list[str]:
    """Saved runs side by side: what differs, then each run's figures per model."""
    lines = ["bntui compare · " + ", ".join(f"{a}: {n}" for a, n in zip(labels, names))]
    diffs = differences(runs)
    lines.append("what differs:" if diffs else "same spec and setup")
    for name, values in diffs:
        lines.append(f"  {name:<22}" + " | ".join(values))
    lines.append(
        f"{'run':<5}{'epochs':>7}{'plain':>8}{'BN':>8}{'BN-plain':>9}{'test':>8}{'BN test':>8}"
        f"{'s/ep plain/BN':>15}"
    )
    for label, run, row in zip(labels, runs, run_rows(runs, None)):
        gap = "—" if row.gap is None else f"{row.gap * 100:+.2f}"
        epochs = max(len(m.history.loss) for m in run.models.values())
        lines.append(
            f"{label:<5}{epochs:>7}{fmt(row.final['plain']):>8}{fmt(row.final['bn']):>8}"
            f"{gap:>9}{fmt(row.test['plain']):>8}{fmt(row.test['bn']):>8}"
            f"{fmt(row.epoch_s['plain'], 2) + '/' + fmt(row.epoch_s['bn'], 2):>15}"
        )
    return lines


def run_headless(session: LiveSession, out: TextIO = sys.stdout) -> int:
    """Train with progress lines; on a stop signal save what was recorded and exit 128+N."""
    received: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        # Only flags: the event loop notices within 0.2 s, so no event is half-recorded.
        received.append(signum)
        session.halt()

    for number in STOP_SIGNALS:
        signal.signal(number, request_stop)
    try:
        say(f"bntui: training plain and BN models, run file: {session.out}", out)
        session.start()
        sweep = session.sweep
        for event in session.events():
            line = event_line(session.run, event)
            if line and sweep is not None:
                line = f"[batch {sweep.batch_sizes[event.run]:>4}] {line}"
            if line:
                say(line, out)
    finally:
        code = 128 + received[0] if received else 0
        if code:
            name = signal.Signals(received[0]).name
            say(f"bntui: {name} received, stopping the workers and saving", out)
        # Further signals only set the flag again (the handler stays until exit), so a
        # second Ctrl-C while stopping and saving can neither corrupt the file nor kill us.
        if code:
            session.stop()
        else:
            session.supervisor.stop()
        path, warning = session.save()
        # Saved: ignore further stop signals. At exit CPython resets Python-level handlers
        # to the default (a late Ctrl-C would kill us with a traceback), but not SIG_IGN.
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
    sweep = session.sweep
    for line in summary_lines(session.run) if sweep is None else sweep_lines(sweep):
        say(line, out)
    if warning:
        say(f"bntui: warning: {warning}", out)
    say(f"bntui: {'run' if sweep is None else 'sweep'} saved to {path}", out)
    if code:
        return code
    return 1 if session.status == "failed" else 0
