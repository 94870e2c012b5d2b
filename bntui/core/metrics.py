"""Every metric bntui records, declared once: the run file's columns, the events' values,
the recorder, replay, export and the dashboard's curves all follow from these lists.

Adding a metric means a declaration here and, unless Keras' logs hold it, the code that
measures it in `bntui.training.emit.MEASURED`; every trainer then reports it (one seed or
stacked seeds). A file written before a metric existed loads with no value (null) for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    """One recorded figure: what it is called, what it means, how it aggregates."""

    name: str  # the run file's column, the events' key, the CSV column
    title: str  # the dashboard's short label
    # "running_mean": Keras' mean since the epoch began (the dashboard plots the mean over
    # each interval, `bntui.stats.figures.interval_curve`); "point": the value at that moment.
    how: Literal["running_mean", "point", "total"]
    about: str  # one sentence for the README and the legend
    unit: str = ""
    bounds: tuple[float | None, float | None] = (None, None)  # no axis runs past these
    validation: str | None = None  # the per-epoch metric drawn as points beside the curve
    plot: bool = True  # a curve the Training tab can show (`m` cycles through them)


# Measured at each curve point (~25 per epoch): a run file's `curve` columns.
STEP_METRICS: tuple[Metric, ...] = (
    Metric(
        "loss", "loss", "running_mean",
        "training loss (sparse categorical cross-entropy)",
        bounds=(0.0, None), validation="val_loss",
    ),
    Metric(
        "accuracy", "acc", "running_mean",
        "training accuracy", bounds=(0.0, 1.0), validation="val_accuracy",
    ),
    Metric(
        "gradient_norm", "‖∇‖", "point",
        "global L2 norm of the loss gradient over all trainable weights, at the step before "
        "the point", bounds=(0.0, None),
    ),
)  # fmt: skip

# Measured at each epoch's end: a run file's `history` columns (Keras' History, plus time).
EPOCH_METRICS: tuple[Metric, ...] = (
    Metric("loss", "loss", "running_mean", "training loss over the epoch", bounds=(0.0, None)),
    Metric("accuracy", "acc", "running_mean", "training accuracy over the epoch",
           bounds=(0.0, 1.0)),
    Metric("val_loss", "val loss", "point", "validation loss at the epoch's end",
           bounds=(0.0, None)),
    Metric("val_accuracy", "val acc", "point", "validation accuracy at the epoch's end",
           bounds=(0.0, 1.0)),
    Metric("epoch_time_s", "s/epoch", "total", "the epoch's wall time", unit="s"),
)  # fmt: skip


def step_metric(name: str) -> Metric:
    """The declaration of per-step metric `name`."""
    return next(m for m in STEP_METRICS if m.name == name)


def plotted() -> tuple[str, ...]:
    """The per-step metrics the Training tab can show, in the order `m` cycles them."""
    return tuple(m.name for m in STEP_METRICS if m.plot)
