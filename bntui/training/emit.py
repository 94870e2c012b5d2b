"""The values a worker reports, built from `bntui.core.metrics`' declarations alone: at each
curve point every `STEP_METRICS` value, at each epoch's end every `EPOCH_METRICS` value, for
each seed a trainer holds (Keras' `fit`: one; `bntui.training.stack.SeedStack`: N).

A declared metric's value is what bntui measures itself (`MEASURED`), else the value its
trainer reports under that name: Keras' logs, with what the trainer adds to them (validation
of stacked seeds, the epoch's wall time). So a new metric is its declaration in
`bntui.core.metrics` and, unless Keras' logs hold it, its entry in `MEASURED`; every trainer
then reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from bntui.core import metrics
from bntui.training.common import finite_float

# A model variable → its value for every seed the trainer holds (axis 0: seed).
Read = Callable[[Any], Any]
SeedValues = list[dict[str, float | None]]

# What bntui measures itself, by metric name: a function of the program model (whose
# variables say what to read) and `read`, returning one value per seed.
MEASURED: dict[str, Callable[[Any, Read], Any]] = {
    # `bntui.training.models.gradient_norm_reporting` keeps it as an optimizer variable.
    "gradient_norm": lambda model, read: read(model.optimizer.gradient_norm),
}


def step_values(model: Any, read: Read, logs: Mapping[str, Any], seeds: int) -> SeedValues:
    """Each seed's `STEP_METRICS` values now, from Keras' running means in `logs` and what
    `MEASURED` reads through `read`."""
    return _values(metrics.STEP_METRICS, model, read, logs, seeds)


def epoch_values(model: Any, read: Read, logs: Mapping[str, Any], seeds: int) -> SeedValues:
    """Each seed's `EPOCH_METRICS` values at an epoch's end, likewise (`logs` holds the
    validation results and `epoch_time_s` too)."""
    return _values(metrics.EPOCH_METRICS, model, read, logs, seeds)


def single(variable: Any) -> list[Any]:
    """`Read` for a trainer of one seed (Keras' `fit`): the variable's value now."""
    return [variable.value]


def _values(
    declared: tuple[metrics.Metric, ...],
    model: Any,
    read: Read,
    logs: Mapping[str, Any],
    seeds: int,
) -> SeedValues:
    columns = {}
    for metric in declared:
        measure = MEASURED.get(metric.name)
        columns[metric.name] = measure(model, read) if measure else logs.get(metric.name)
    return [
        {name: finite_float(_of_seed(c, k)) for name, c in columns.items()} for k in range(seeds)
    ]


def _of_seed(column: Any, seed_index: int) -> Any:
    # One value (Keras' logs of one seed, the epoch's time) holds for every seed.
    return column if np.ndim(column) == 0 else column[seed_index]
