"""Table rows for several runs side by side: a sweep's batch sizes, or compared files.

Each row holds one run's figures per model. A run of several seeds shows the mean over its
seeds, and BN − plain with its paired 95% interval (`bntui.stats.seedstats`); a run of one seed
shows that seed's values, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bntui.core.spec import MODEL_KEYS
from bntui.record.runfile import RunFile
from bntui.record.sweep import SweepFile
from bntui.stats.figures import best
from bntui.stats.intervals import Interval, mean_interval
from bntui.stats.seedcurves import mean_history
from bntui.stats.seedstats import (
    epochs_to_reach,
    final_accuracies,
    finished_epochs,
    seed_epoch_times,
    test_accuracies,
    val_gap,
)


@dataclass
class RunRow:
    """One run's figures (a batch size of a sweep, or a compared file): a table row.
    Per model, the mean over the run's seeds (one seed: its values)."""

    batch_size: int
    status: str
    epochs: int  # epochs both models finished (every seed)
    final: dict[str, float | None]
    best: dict[str, float | None]
    reached: dict[str, int | None]  # first epoch (1-based) the mean val accuracy ≥ target
    epoch_s: dict[str, float | None]
    test: dict[str, float | None]
    gap: float | None  # BN − plain val accuracy at the latest common epoch (mean over seeds)
    seeds: int = 1
    gap_interval: Interval | None = None  # `gap` with its paired interval over the seeds


def _mean(values: Sequence[float | None]) -> float | None:
    found = mean_interval(values)
    return None if found is None else found.mean


def run_status(run: RunFile) -> str:
    """One word when every seed of both models ended alike, else the statuses joined."""
    statuses = [m.status for entry in run.seeds for m in entry.models.values()]
    return statuses[0] if len(set(statuses)) == 1 else "/".join(dict.fromkeys(statuses))


def run_rows(runs: Sequence[RunFile], target: float | None) -> list[RunRow]:
    """Each run's figures per model; `reached` counts epochs to `target` (None: no target)."""
    rows = []
    for run in runs:
        final, top, reached, epoch_s, test = {}, {}, {}, {}, {}
        for key in MODEL_KEYS:
            records = run.records(key)
            final[key] = _mean(final_accuracies(run, key))
            top[key] = _mean([best(r.history.column("val_accuracy"), True) for r in records])
            mean = mean_history(run, key, "val_accuracy")
            reached[key] = epochs_to_reach(mean, target) if target else None
            epoch_s[key] = seed_epoch_times(run, key).per_epoch_s
            test[key] = _mean(test_accuracies(run, key))
        gap = val_gap(run)
        rows.append(
            RunRow(
                run.spec.batch_size,
                run_status(run),
                finished_epochs(run),
                final,
                top,
                reached,
                epoch_s,
                test,
                None if gap is None else gap.mean,
                len(run.seeds),
                gap,
            )
        )
    return rows


def sweep_rows(sweep: SweepFile) -> list[RunRow]:
    """The sweep table, derived from the runs as recorded so far."""
    return run_rows(sweep.runs, sweep.target_accuracy)
