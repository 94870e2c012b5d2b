"""Figures across seeds: BN − plain with paired intervals, per-model means, curve bands.

Like `bntui.stats.figures` (which derives one seed's figures), this is the one place every
surface (dashboard, headless, compare, sweep, export) takes its across-seed numbers from.
A run of one seed gives the same differences with no interval.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bntui.core.spec import MODEL_KEYS, TARGET_ACCURACY, ExperimentSpec
from bntui.core.text import fmt, fmt_signed
from bntui.record.runfile import RunFile
from bntui.stats.figures import (
    EpochTimes,
    epoch_times,
    last,
)
from bntui.stats.intervals import Interval, finite, mean_interval, paired_interval


def target_for(run: RunFile) -> float:
    """The validation accuracy to time for `run`'s dataset."""
    return TARGET_ACCURACY.get(run.spec.dataset, 0.9)


def epochs_to_reach(accuracies: list[float | None], target: float) -> int | None:
    """The first epoch (1-based) whose validation accuracy is at least `target`."""
    return next((i + 1 for i, a in enumerate(accuracies) if a is not None and a >= target), None)


def finished_epochs(run: RunFile) -> int:
    """The latest epoch that every seed of both models finished (0 before the first)."""
    return min(
        len(entry.models[key].history.column("loss")) for entry in run.seeds for key in MODEL_KEYS
    )


@dataclass(frozen=True)
class Comparison:
    """BN − plain of one figure over the seeds: each seed's values and the paired interval
    (in display units: `scale` times the recorded ones)."""

    label: str  # "val acc at epoch 10"
    unit: str  # "pts", "epochs" or ""
    scale: float
    digits: int
    plain: tuple[float | None, ...]
    bn: tuple[float | None, ...]
    interval: Interval | None
    note: str = ""  # what is missing ("plain not reached in 5 seeds; bn 3.8 epochs (5 of 5 seeds)")

    def number(self, value: float | None, signed: bool = True) -> str:
        """A value in this figure's units and precision (a minus sign, never `−0.0`)."""
        return (fmt_signed if signed else fmt)(value, self.digits)

    def text(self) -> str:
        """`val acc at epoch 10: +3.2 pts (95% CI +2.6 … +3.8, paired over 5 seeds)`."""
        unit = f" {self.unit}" if self.unit else ""
        if self.interval is None:
            return f"{self.label}: {self.note or 'no value yet'}"
        found = self.interval
        head = f"{self.label}: {self.number(found.mean)}{unit}"
        seeds = len(self.plain)
        if found.has_interval:
            over = f"paired over {found.n} seeds" + (f" of {seeds}" if found.n < seeds else "")
            level = round(found.confidence * 100)
            detail = f"{level}% CI {self.number(found.low)} … {self.number(found.high)}, {over}"
        elif seeds == 1:
            detail = "one seed: no interval can be given; --seeds N gives one"
        else:
            detail = f"{found.n} of {seeds} seeds have a value: no interval can be given"
        if self.note:
            detail += f"; {self.note}"
        return f"{head} ({detail})"


def _compare(
    label: str,
    unit: str,
    scale: float,
    digits: int,
    plain: list[float | None],
    bn: list[float | None],
    note: str = "",
) -> Comparison:
    found = paired_interval(plain, bn)
    return Comparison(
        label,
        unit,
        scale,
        digits,
        tuple(plain),
        tuple(bn),
        found.scaled(scale) if found else None,
        note,
    )


def _at_epoch(run: RunFile, key: str, metric: str, epoch: int) -> list[float | None]:
    values = []
    for record in run.records(key):
        column = record.history.column(metric)
        values.append(column[epoch - 1] if 0 < epoch <= len(column) else None)
    return values


def comparisons(run: RunFile, target: float | None = None) -> list[Comparison]:
    """The headline figures, BN − plain over the seeds: val accuracy and val loss at the
    latest epoch every seed finished, test accuracy, and epochs to reach `target` val
    accuracy (default `target_for(run)`)."""
    epoch = finished_epochs(run)
    # One seed's figures keep the precision they always had; a mean over seeds one less.
    fine = 1 if run.spec.seeds == 1 else 0

    def at_epoch(label: str, metric: str, unit: str, scale: float, digits: int) -> Comparison:
        return _compare(
            f"{label} at epoch {epoch}",
            unit,
            scale,
            digits + fine,
            _at_epoch(run, "plain", metric, epoch),
            _at_epoch(run, "bn", metric, epoch),
        )

    found = []
    if epoch:
        found.append(at_epoch("val acc", "val_accuracy", "pts", 100.0, 1))
    tests = {key: test_accuracies(run, key) for key in MODEL_KEYS}
    if any(v is not None for values in tests.values() for v in values):
        found.append(_compare("test acc", "pts", 100.0, 1 + fine, tests["plain"], tests["bn"]))
    if epoch:
        found.append(at_epoch("val loss", "val_loss", "", 1.0, 3))
        goal = target_for(run) if target is None else target
        reached: dict[str, list[float | None]] = {}
        for key in MODEL_KEYS:
            reached[key] = [
                _as_float(epochs_to_reach(r.history.column("val_accuracy"), goal))
                for r in run.records(key)
            ]
        note = ""
        if any(v is None for values in reached.values() for v in values):
            # Pairs are missing: say what each model did, so that one model's figure is
            # not lost because the other never got there.
            note = "; ".join(_reach_note(key, values) for key, values in reached.items())
            if not any(finite(values) for values in reached.values()):
                note = "neither model reached it"
        found.append(
            _compare(
                f"epochs to {goal:.0%} val acc",
                "epochs",
                1.0,
                1,
                reached["plain"],
                reached["bn"],
                note,
            )
        )
    return found


def unpaired_seeds(run: RunFile) -> list[int]:
    """The seeds whose two models recorded different data orders for an epoch both
    finished: those are not a fair pair (a file edited by hand, or a bug)."""
    found = []
    for entry in run.seeds:
        plain, bn = entry.models["plain"].data_order, entry.models["bn"].data_order
        common = min(len(plain), len(bn))
        if plain[:common] != bn[:common]:
            found.append(entry.seed)
    return found


def pairing(run: RunFile) -> str:
    """How the seeds are paired, as far as the file shows it: checked from the recorded
    data-order digests, or only seeded alike (no digests), or broken for some seeds."""
    broken = unpaired_seeds(run)
    if broken:
        return (
            f"NOT PAIRED: seed{'s' * (len(broken) > 1)} {seed_range(broken)} had other data "
            "for plain and BN"
        )
    if all(m.data_order for entry in run.seeds for m in entry.models.values()):
        return "same data order per seed, checked"
    return "seeded alike, data order not recorded"


def _reach_note(key: str, epochs: list[float | None]) -> str:
    """`bn 3.8 epochs (5 of 5 seeds)`, `plain not reached in 5 seeds`; with one seed,
    `bn at epoch 4`, `plain not reached`."""
    numbers = finite(epochs)
    if len(epochs) == 1:
        return f"{key} at epoch {numbers[0]:.0f}" if numbers else f"{key} not reached"
    if not numbers:
        return f"{key} not reached in {len(epochs)} seed{'s' * (len(epochs) > 1)}"
    return f"{key} {sum(numbers) / len(numbers):.1f} epochs ({len(numbers)} of {len(epochs)} seeds)"


def _as_float(value: int | None) -> float | None:
    return None if value is None else float(value)


def headline(run: RunFile) -> str | None:
    """The first comparison as a sentence: `BN − plain val acc at epoch 10: +3.2 pts
    (95% CI +2.6 … +3.8, paired over 5 seeds)`; None before any epoch."""
    found = comparisons(run)
    return f"BN − plain {found[0].text()}" if found else None


def test_accuracies(run: RunFile, key: str) -> list[float | None]:
    """Model `key`'s test accuracy for each seed (None where it has none)."""
    return [r.test.accuracy if r.test is not None else None for r in run.records(key)]


def test_summary(run: RunFile, key: str) -> Interval | None:
    """Model `key`'s mean test accuracy over the seeds with its t interval."""
    return mean_interval(test_accuracies(run, key))


@dataclass(frozen=True)
class SeedTest:
    """One seed's test accuracy for each model, and BN − plain (None where one is missing)."""

    seed: int
    plain: float | None
    bn: float | None

    @property
    def gap(self) -> float | None:
        """BN − plain test accuracy of this seed."""
        return None if self.plain is None or self.bn is None else self.bn - self.plain


def test_rows(run: RunFile) -> list[SeedTest]:
    """Each seed's test accuracy of both models, in seed order."""
    plain, bn = test_accuracies(run, "plain"), test_accuracies(run, "bn")
    return [SeedTest(entry.seed, a, b) for entry, a, b in zip(run.seeds, plain, bn)]


def test_comparison(run: RunFile) -> Comparison | None:
    """BN − plain test accuracy over the seeds (as in `comparisons`); None before any test."""
    return next((c for c in comparisons(run) if c.label == "test acc"), None)


def brief(comparison: Comparison, compact: bool = False) -> str:
    """A comparison in few words, for one line whose head says the epoch: `val acc +3.2 pts
    (95% CI +2.6 … +3.8, paired over 5 seeds)`; without an interval, the value alone.
    `compact`: the interval without its wording (`(+2.6 … +3.8)`, `; 4 of 5` when seeds are
    missing), for a line whose head says it once."""
    label = comparison.label.split(" at epoch ")[0]
    found = comparison.interval
    if found is None:
        return f"{label}: {comparison.note or 'no value yet'}"
    unit = f" {comparison.unit}" if comparison.unit else ""
    text = f"{label} {comparison.number(found.mean)}{unit}"
    if found.has_interval and compact:
        seeds = len(comparison.plain)
        of = f"; {found.n} of {seeds}" if found.n < seeds else ""
        text += f" ({comparison.number(found.low)} … {comparison.number(found.high)}{of})"
    elif found.has_interval:
        level = round(found.confidence * 100)
        seeds = len(comparison.plain)
        over = f"{found.n} of {seeds}" if found.n < seeds else f"{found.n}"
        text += (
            f" ({level}% CI {comparison.number(found.low)} … {comparison.number(found.high)},"
            f" paired over {over} seeds)"
        )
    return text


def final_accuracies(run: RunFile, key: str) -> list[float | None]:
    """Model `key`'s validation accuracy at its last epoch, for each seed."""
    return [last(r.history.column("val_accuracy")) for r in run.records(key)]


def val_summary(run: RunFile, key: str) -> Interval | None:
    """Model `key`'s mean final validation accuracy over the seeds with its t interval."""
    return mean_interval(final_accuracies(run, key))


def val_gap(run: RunFile) -> Interval | None:
    """BN − plain validation accuracy at the latest epoch every seed finished, paired over
    the seeds (as a fraction; `comparisons` shows the same in points)."""
    epoch = finished_epochs(run)
    if not epoch:
        return None
    plain = _at_epoch(run, "plain", "val_accuracy", epoch)
    return paired_interval(plain, _at_epoch(run, "bn", "val_accuracy", epoch))


def seed_epoch_times(run: RunFile, key: str) -> EpochTimes:
    """Model `key`'s epoch times over the seeds: the median of each seed's s/epoch, and the
    first seed's first epoch (the one that compiles)."""
    times = [epoch_times(r.history) for r in run.records(key)]
    steady = [t.per_epoch_s for t in times if t.per_epoch_s is not None]
    if len(times) == 1 or not steady:
        return times[0]
    return EpochTimes(times[0].first_s, statistics.median(steady), times[0].epochs)


def seed_range(values: list[int]) -> str:
    """`42` for one seed, `42–44` for consecutive ones, else `42, 45`."""
    if len(values) == 1:
        return str(values[0])
    if values == list(range(values[0], values[0] + len(values))):
        return f"{values[0]}–{values[-1]}"
    return ", ".join(str(v) for v in values)


def seeds_text(spec: ExperimentSpec) -> str:
    """`seed 42`, or `seeds 42–46` for several."""
    return f"seed {spec.seed}" if spec.seeds == 1 else f"seeds {seed_range(spec.seed_values)}"


def how_trained(spec: ExperimentSpec) -> str | None:
    """How a worker trained its seeds: as one vectorised program, or one after another
    and why; None for one seed."""
    if spec.seeds == 1:
        return None
    if spec.vectorised:
        return f"{spec.seeds} seeds of each model trained as one vectorised program (jax.vmap)"
    if spec.backend != "jax":
        why = f"the {spec.backend} backend has no jax.vmap"
    elif spec.faithful:
        why = "--faithful trains as the notebooks do, one step per call"
    else:
        why = "the seeds' callbacks run in Keras' own fit"
    return f"{spec.seeds} seeds of each model trained one after another ({why})"


def plus_minus(
    found: Interval | None,
    digits: int = 4,
    scale: float = 1.0,
    signed: bool = False,
    spaced: bool = False,
) -> str:
    """`0.4128 ±0.0216` (`spaced`: `0.4128 ± 0.0216`): the mean and the half-width of its
    95% interval, which is symmetric; `0.4128 (n=1)` when one value gave no interval; `—`
    without a value."""
    if found is None:
        return "—"
    text = (fmt_signed if signed else fmt)(found.mean * scale, digits)
    if found.has_interval:
        assert found.high is not None
        gap = " " if spaced else ""
        text += f" ±{gap}{(found.high - found.mean) * scale:.{digits}f}"
    elif found.n == 1:
        text += " (n=1)"
    return text
