"""A run's summary as plain lines (`bntui replay --headless`, the end of a headless run).

One seed: each model's final and best metrics, test results and speed, and BN − plain
(which one seed cannot give an interval for). Several seeds: each model's mean over the
seeds with its 95% interval, each seed's test accuracy, and every BN − plain figure of
`bntui.stats.seedstats.comparisons` with its paired interval. Text from the file is cleaned here;
`bntui.core.text.say` cleans each whole line again as it is printed.
"""

from __future__ import annotations

from bntui.core.spec import MODEL_KEYS, MODEL_TITLES, ExperimentSpec
from bntui.core.text import clean, fmt, fmt_duration
from bntui.record.runfile import ModelRun, RunFile
from bntui.stats.figures import best, epoch_times, last, train_size
from bntui.stats.seedstats import (
    comparisons,
    how_trained,
    pairing,
    plus_minus,
    seed_epoch_times,
    seed_range,
    test_accuracies,
    test_summary,
    val_summary,
)

# A failure's reason is printed whole (it says what to do), and the same text in the progress
# line and the summary, so that the summary can tell it was already said.
REASON_LIMIT = 2000
SPEED_NOTE = "s/epoch: median epoch after the first, which also compiles (shown as 1st)"
# Statuses worth naming the seeds of, even without a recorded reason.
UNFINISHED = ("failed", "diverged", "interrupted")


def spec_line(spec: ExperimentSpec, train_images: int, batch: bool = True) -> str:
    """The experiment in one line, with the data actually used (a --limit shows); a sweep
    leaves the batch size to its table."""
    data = f"{train_images:,} training images"
    if spec.limit:
        data += f" (--limit {spec.limit:,})"
    size = f" · batch {spec.batch_size}" if batch else ""
    seeds = f"seed {spec.seed}" if spec.seeds == 1 else f"seeds {seed_range(spec.seed_values)}"
    return (
        f"{spec.dataset} · {data} · {spec.optimizer} lr {spec.learning_rate:g}{size} · "
        f"{spec.epochs} epoch{'s' * (spec.epochs != 1)} · {seeds}"
    )


def summary_lines(run: RunFile, shown: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """A run's summary: status, spec, how the seeds trained, each model's figures, every
    BN − plain comparison and what went wrong. Failure reasons in `shown` were already
    printed and are not repeated."""
    lines = [
        f"bntui run · {clean(run.status)} · started {clean(run.started_at)} · "
        f"{fmt_duration(run.duration_s)}",
        spec_line(run.spec, train_size(run))
        + f" · backend {clean(run.environment.get('backend', run.spec.backend))}",
    ]
    how = how_trained(run.spec)
    if how:
        lines.append(how)
    if len(run.seeds) > 1:
        lines.append(f"pairing: {pairing(run)}")
    lines += _seeds_table(run) if len(run.seeds) > 1 else _one_seed_table(run)
    lines += [f"BN − plain {found.text()}" for found in comparisons(run)]
    together = f"; one epoch of all {run.spec.seeds} seeds at once" if run.spec.vectorised else ""
    lines.append(SPEED_NOTE + together)
    lines += _trouble(run, shown)
    return lines


def _one_seed_table(run: RunFile) -> list[str]:
    lines = [
        f"{'model':<16}{'status':<12}{'epochs':>6}{'val_acc':>9}{'best':>8}{'test_acc':>9}"
        f"{'test_loss':>10}{'s/epoch':>8}{'1st':>7}"
    ]
    for key in MODEL_KEYS:
        m = run.models[key]
        h = m.history
        times = epoch_times(h)
        val_accuracy = h.column("val_accuracy")
        lines.append(
            f"{MODEL_TITLES[key]:<16}{clean(m.status):<12}{len(h.column('loss')):>6}"
            f"{fmt(last(val_accuracy)):>9}{fmt(best(val_accuracy, True)):>8}"
            f"{fmt(m.test.accuracy if m.test else None):>9}"
            f"{fmt(m.test.loss if m.test else None):>10}"
            f"{fmt(times.per_epoch_s, 2):>8}{fmt(times.first_s, 2):>7}"
        )
    return lines


def _seeds_status(records: list[ModelRun]) -> str:
    statuses = [m.status for m in records]
    if len(set(statuses)) == 1:
        return clean(statuses[0])
    return f"{statuses.count('completed')}/{len(statuses)} completed"


def _seeds_table(run: RunFile) -> list[str]:
    lines = [
        f"{'model':<16}{'status':<15}{'epochs':>6}{'val_acc ±95% CI':>18}"
        f"{'test_acc ±95% CI':>18}{'s/epoch':>8}{'1st':>7}"
    ]
    for key in MODEL_KEYS:
        records = run.records(key)
        epochs = sorted({len(m.history.column("loss")) for m in records})
        done = str(epochs[0]) if len(epochs) == 1 else f"{epochs[0]}–{epochs[-1]}"
        times = seed_epoch_times(run, key)
        lines.append(
            f"{MODEL_TITLES[key]:<16}{_seeds_status(records):<15}{done:>6}"
            f"{plus_minus(val_summary(run, key)):>18}{plus_minus(test_summary(run, key)):>18}"
            f"{fmt(times.per_epoch_s, 2):>8}{fmt(times.first_s, 2):>7}"
        )
    per_seed = " · ".join(
        f"{MODEL_TITLES[key]} " + " ".join(fmt(v) for v in test_accuracies(run, key))
        for key in MODEL_KEYS
    )
    lines.append(f"test_acc per seed ({seed_range(run.spec.seed_values)}): {per_seed}")
    lines.append(
        f"val_acc: each seed's last epoch; ±: half the 95% t interval over {len(run.seeds)} seeds"
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
        elif several:
            lines.append(f"{who} (the reason above)")
    records = [m for entry in run.seeds for m in entry.models.values()]
    joined = "; ".join(dict.fromkeys(m.error for m in records if m.error))
    if run.error and run.error != joined and clean(run.error) not in shown:
        lines.append(f"error: {clean(run.error)}")
    return lines
