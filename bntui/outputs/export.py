"""Export a run or sweep for a report: CSV tables and an SVG picture of the curves.

No Textual, no Keras, no plotting library: the SVG is written by hand, so export works
wherever replay does. A file from anyone exports to files that are safe to open: its text
is cleaned (`clean`), escaped for XML in the SVG (always well-formed, no script), and CSV
text cells that a spreadsheet would run as a formula are quoted with `'` (OWASP's advice
for CSV injection). Everything is rendered in memory first, then written all or none.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bntui.core.metrics import EPOCH_METRICS, STEP_METRICS
from bntui.core.spec import MODEL_KEYS
from bntui.core.text import clean
from bntui.outputs.svg import curves_svg, svg_text
from bntui.record.files import write_atomic
from bntui.record.runfile import RunFile
from bntui.record.sweep import SweepFile
from bntui.stats.figures import curve_positions, interval_curve, train_size
from bntui.stats.intervals import Interval
from bntui.stats.seedstats import comparisons, test_summary, val_summary

__all__ = ["curves_svg", "svg_text"]  # the SVG's own module is bntui.outputs.svg
# What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell: numbers as they are, text cleaned and, if a spreadsheet would take it for
    a formula, prefixed with `'` (a negative number stays a number)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return value
    text = clean(value, None)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_table(header: list[str], rows: list[list[object]]) -> str:
    """A CSV document (`\\n` line ends) with `header` and `rows`, every cell `csv_cell`ed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def history_csv(runs: list[RunFile]) -> str:
    """Each model's per-epoch history (`bntui.core.metrics.EPOCH_METRICS`: Keras' History plus
    the epoch's time), one row per model-epoch."""
    names = [m.name for m in EPOCH_METRICS]
    rows: list[list[object]] = []
    for run in runs:
        for entry in run.seeds:
            for key in MODEL_KEYS:
                h = entry.models[key].history
                columns = [h.column(name) for name in names]
                for epoch in range(len(columns[0])):
                    rows.append(
                        [
                            run.spec.batch_size,
                            entry.seed,
                            key,
                            epoch + 1,
                            *(c[epoch] for c in columns),
                        ]
                    )
    return csv_table(["batch_size", "seed", "model", "epoch", *names], rows)


def curve_csv(runs: list[RunFile]) -> str:
    """The intra-epoch training curves, one row per curve point: each of
    `bntui.core.metrics.STEP_METRICS` as recorded (Keras' running means since the epoch began,
    values at the point), and for running means the mean over the interval since the
    previous point (`interval_loss`, …: what the dashboard plots)."""
    means = [m.name for m in STEP_METRICS if m.how == "running_mean"]
    rows: list[list[object]] = []
    for run in runs:
        size, batch = train_size(run), run.spec.batch_size
        for entry in run.seeds:
            for key in MODEL_KEYS:
                c = entry.models[key].curve
                columns = [c.column(m.name) for m in STEP_METRICS]
                intervals = [interval_curve(c, name, batch, size)[1] for name in means]
                if any(len(values) != len(c.t) for values in intervals):  # repeated points
                    intervals = [[None] * len(c.t) for _ in means]
                positions = curve_positions(c)
                for i, t in enumerate(c.t):
                    rows.append(
                        [
                            batch,
                            entry.seed,
                            key,
                            t,
                            round(positions[i], 5),
                            *(values[i] for values in columns),
                            *(values[i] for values in intervals),
                        ]
                    )
    header = ["batch_size", "seed", "model", "t", "epoch", *(m.name for m in STEP_METRICS)]
    return csv_table([*header, *(f"interval_{name}" for name in means)], rows)


def inside_csv(runs: list[RunFile]) -> str:
    """The layer statistics in long form: one row per measurement, layer and statistic."""
    rows: list[list[object]] = []
    for run in runs:
        for entry in run.seeds:
            for key in MODEL_KEYS:
                inside = entry.models[key].inside
                for layer in inside.layers:
                    for stat, values in layer.stats.items():
                        for position, t, value in zip(inside.position, inside.t, values):
                            rows.append(
                                [
                                    run.spec.batch_size,
                                    entry.seed,
                                    key,
                                    layer.name,
                                    layer.kind,
                                    layer.units,
                                    stat,
                                    position,
                                    t,
                                    value,
                                ]
                            )
    header = ["batch_size", "seed", "model", "layer", "kind", "units", "stat", "epoch", "t"]
    return csv_table([*header, "value"], rows)


STATS_HEADER = [
    "batch_size",
    "figure",
    "model",
    "unit",
    "mean",
    "ci_low",
    "ci_high",
    "n_seeds",
    "seeds",
]


def _stats_row(
    batch: int, figure: str, model: str, unit: str, found: Interval | None, seeds: int
) -> list[object]:
    if found is None:
        return [batch, figure, model, unit, None, None, None, 0, seeds]
    return [batch, figure, model, unit, found.mean, found.low, found.high, found.n, seeds]


def stats_csv(runs: list[RunFile]) -> str:
    """The figures over the seeds (`bntui.stats.seedstats`), one row each: every BN − plain
    comparison (model `bn-plain`, in the units the summary shows: `pts` are percentage
    points) with its paired 95% interval, and each model's mean final validation and test
    accuracy (unit `fraction`) with its t interval. One seed: no interval (empty cells);
    `n_seeds` counts the seeds with a value, `seeds` those of the run."""
    rows: list[list[object]] = []
    for run in runs:
        batch, seeds = run.spec.batch_size, len(run.seeds)
        for found in comparisons(run):
            rows.append(
                _stats_row(batch, found.label, "bn-plain", found.unit, found.interval, seeds)
            )
        for key in MODEL_KEYS:
            rows.append(
                _stats_row(batch, "final val acc", key, "fraction", val_summary(run, key), seeds)
            )
            rows.append(
                _stats_row(batch, "test acc", key, "fraction", test_summary(run, key), seeds)
            )
    return csv_table(STATS_HEADER, rows)


def export_files(document: RunFile | SweepFile, stem: Path) -> dict[Path, str]:
    """What `bntui export` writes: path → text, next to `stem` (which has no suffix)."""
    runs = document.runs if isinstance(document, SweepFile) else [document]
    return {
        stem.with_name(f"{stem.name}-history.csv"): history_csv(runs),
        stem.with_name(f"{stem.name}-curve.csv"): curve_csv(runs),
        stem.with_name(f"{stem.name}-inside.csv"): inside_csv(runs),
        stem.with_name(f"{stem.name}-stats.csv"): stats_csv(runs),
        stem.with_name(f"{stem.name}-curves.svg"): curves_svg(document),
    }


def write_all(files: dict[Path, str]) -> None:
    """Write every file (never overwriting), or none: if one cannot be written, those
    already written are removed and OSError says which failed and why."""
    written: list[Path] = []
    try:
        for path, text in files.items():
            write_atomic(text, path, overwrite=False)
            written.append(path)
    except (OSError, UnicodeError) as exc:
        for path in written:
            path.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise OSError(f"cannot write {path} ({reason}); nothing was exported") from None
