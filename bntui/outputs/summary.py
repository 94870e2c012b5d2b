"""A run's summary as plain lines (`bntui replay --headless`, the end of a headless run).

One seed: each model's final and best metrics, test results and speed, and BN − plain
(which one seed cannot give an interval for). Several seeds: each model's mean over the
seeds with its 95% interval, each seed's test accuracy, and every BN − plain figure of
`bntui.stats.seedstats.comparisons` with its paired interval. Text from the file is cleaned here;
`bntui.core.text.say` cleans each whole line again as it is printed.
"""

from __future__ import annotations

import textwrap

from bntui.core.spec import MODEL_KEYS, MODEL_TITLES, ExperimentSpec
from bntui.core.text import clean, fmt, fmt_duration
from bntui.record.runfile import ModelRun, RunFile
from bntui.stats.figures import best, epoch_times, last, train_size, trained_nothing
from bntui.stats.seedstats import (
    comparisons,
    how_trained,
    pairing,
    plus_minus,
    seed_epoch_times,
    seed_range,
    seeds_text,
    test_accuracies,
    test_summary,
    val_summary,
)

# A failure's reason is printed whole (it says what to do), and the same text in the progress
# line and the summary, so that the summary can tell it was already said.
REASON_LIMIT = 2000
SPEED_NOTE = "s/epoch: median epoch after the first, which also compiles (shown as 1st)"
# A model that ran one epoch has no later one to time: its s/epoch is that epoch.
ONLY_EPOCH_NOTE = "s/epoch: the only epoch, which also compiles (no later epoch to time)"
ONE_EPOCH_TOO = "; a model that ran one epoch: that epoch"
# A summary fits an 80-column terminal: tables are laid out for it, longer lines fold.
WIDTH = 80
# Statuses worth naming the seeds of, even without a recorded reason.
UNFINISHED = ("failed", "diverged", "interrupted")


def spec_line(spec: ExperimentSpec, train_images: int, batch: bool = True) -> str:
    """The experiment in one line, with the data actually used (a --limit shows); a sweep
    leaves the batch size to its table."""
    return " · ".join(spec_lines(spec, train_images, batch))


def spec_lines(spec: ExperimentSpec, train_images: int | None, batch: bool = True) -> list[str]:
    """`spec_line` in two lines (the data and optimizer; the length and seeds), so that a
    summary keeps to 80 columns. `train_images` None: the data was never loaded (every
    model failed first), and no count is claimed."""
    data = "data not loaded" if train_images is None else f"{train_images:,} training images"
    if spec.limit:
        data += f" (--limit {spec.limit:,})"
    size = f" · batch {spec.batch_size}" if batch else ""
    seeds = seeds_text(spec)
    return [
        f"{spec.dataset} · {data} · {spec.optimizer} lr {spec.learning_rate:g}{size}",
        f"{spec.epochs} epoch{'s' * (spec.epochs != 1)} · {seeds}",
    ]


def summary_lines(run: RunFile, shown: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """A run's summary: status, spec, how the seeds trained, each model's figures, every
    BN − plain comparison and what went wrong. Failure reasons in `shown` were already
    printed and are not repeated."""
    loaded = run.dataset is not None or not trained_nothing(run)
    what, length = spec_lines(run.spec, train_size(run) if loaded else None)
    lines = [
        f"bntui run · {clean(run.status)} · started {clean(run.started_at)} · "
        f"{fmt_duration(run.duration_s)}",
        what,
        f"{length} · backend {clean(run.environment.get('backend', run.spec.backend))}",
    ]
    how = how_trained(run.spec)
    if how:
        lines.append(how)
    if len(run.seeds) > 1:
        lines.append(f"pairing: {pairing(run)}")
    lines += _seeds_table(run) if len(run.seeds) > 1 else _one_seed_table(run)
    lines += folded([f"BN − plain {found.text()}" for found in comparisons(run)])
    together = f"; one epoch of all {run.spec.seeds} seeds at once" if run.spec.vectorised else ""
    note = speed_note(run)
    if note:  # nothing timed (no model trained an epoch): no note about it
        lines += folded([note + together])
    lines += _trouble(run, shown)
    return lines


def speed_note(run: RunFile) -> str:
    """The s/epoch footnote, true of this run: the median of the later epochs, or, for a
    model that ran only one, that epoch (`bntui.stats.figures.EpochTimes.per_epoch_s`);
    empty when no model timed an epoch."""
    counts = [epoch_times(m.history).epochs for key in MODEL_KEYS for m in run.records(key)]
    timed = [n for n in counts if n]
    if not timed:
        return ""
    if all(n == 1 for n in timed):
        return ONLY_EPOCH_NOTE
    return SPEED_NOTE + (ONE_EPOCH_TOO if 1 in timed else "")


def folded(lines: list[str], width: int = WIDTH) -> list[str]:
    """`lines` with each one longer than `width` folded at spaces, the rest indented. Only
    for bntui's own words: a line with text from a file is never folded, so that a file's
    text cannot change how many lines a summary has (a forged line would hide there)."""
    out: list[str] = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        out += textwrap.wrap(
            line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
        )
    return out


def _one_seed_table(run: RunFile) -> list[str]:
    lines = [
        f"{'model':<16}{'status':<11}{'epochs':>7}{'val_acc':>8}{'best':>7}{'test_acc':>9}"
        f"{'test_loss':>10}{'s/ep':>6}{'1st':>6}"
    ]
    for key in MODEL_KEYS:
        m = run.models[key]
        h = m.history
        times = epoch_times(h)
        val_accuracy = h.column("val_accuracy")
        lines.append(
            f"{MODEL_TITLES[key]:<16}{clean(m.status, 11):<11}{len(h.column('loss')):>7}"
            f"{fmt(last(val_accuracy)):>8}{fmt(best(val_accuracy, True)):>7}"
            f"{fmt(m.test.accuracy if m.test else None):>9}"
            f"{fmt(m.test.loss if m.test else None):>10}"
            f"{fmt(times.per_epoch_s, 2):>6}{fmt(times.first_s, 2):>6}"
        )
    return lines


def _seeds_status(records: list[ModelRun]) -> str:
    statuses = [m.status for m in records]
    if len(set(statuses)) == 1:
        return clean(statuses[0])
    return f"{statuses.count('completed')}/{len(statuses)} completed"


def _seeds_table(run: RunFile) -> list[str]:
    lines = [
        f"{'model':<16}{'status':<14}{'epochs':>7}{'val_acc ±CI':>15}"
        f"{'test_acc ±CI':>15}{'s/ep':>6}{'1st':>6}"
    ]
    for key in MODEL_KEYS:
        records = run.records(key)
        epochs = sorted({len(m.history.column("loss")) for m in records})
        done = str(epochs[0]) if len(epochs) == 1 else f"{epochs[0]}–{epochs[-1]}"
        times = seed_epoch_times(run, key)
        lines.append(
            f"{MODEL_TITLES[key]:<16}{_seeds_status(records):<14}{done:>7}"
            f"{plus_minus(val_summary(run, key)):>15}{plus_minus(test_summary(run, key)):>15}"
            f"{fmt(times.per_epoch_s, 2):>6}{fmt(times.first_s, 2):>6}"
        )
    lines.append(f"test_acc per seed ({seed_range(run.spec.seed_values)}):")
    lines += [
        f"  {MODEL_TITLES[key]:<16}" + " ".join(fmt(v) for v in test_accuracies(run, key))
        for key in MODEL_KEYS
    ]
    lines.append(
        f"val_acc: each seed's last epoch; ±CI: half the 95% t interval over {len(run.seeds)} seeds"
    )
    return lines


def _trouble(run: RunFile, shown: set[str] | frozenset[str]) -> list[str]:
    """What went wrong: each reason once with whom it concerns (which seeds, with several),
    and the seeds that ended early without one."""
    several = len(run.seeds) > 1
    # reason (None: none recorded) → (model, status) → seeds
    found: dict[str | None, dict[tuple[str, str], list[int]]] = {}
    for key in MODEL_KEYS:
        for entry in run.seeds:
            m = entry.models[key]
            if m.error or m.status == "failed":
                why: str | None = clean(m.error or "no reason recorded", REASON_LIMIT)
            elif several and m.status in UNFINISHED:
                why = None
            else:
                continue
            found.setdefault(why, {}).setdefault((key, m.status), []).append(entry.seed)
    lines = []
    for why, groups in found.items():
        who = ", ".join(
            f"{MODEL_TITLES[key]}"
            + (f" seed{'s' if len(seeds) > 1 else ''} {seed_range(seeds)}" if several else "")
            + f" {clean(status)}"
            for (key, status), seeds in groups.items()
        )
        if why is None:
            lines.append(who)
        elif why not in shown:
            lines.append(f"{who}: {why}")
        else:
            lines.append(f"{who} (the reason above)")
    records = [m for entry in run.seeds for m in entry.models.values()]
    joined = "; ".join(dict.fromkeys(m.error for m in records if m.error))
    if run.error and run.error != joined and clean(run.error) not in shown:
        lines.append(f"error: {clean(run.error)}")
    return lines
