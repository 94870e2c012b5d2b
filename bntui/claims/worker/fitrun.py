"""The child process of the notebooks' harness (`bntui.claims.worker.fit`): reads a cell
spec as JSON on stdin, trains each seed as notebook 000 does (`compile` with the accuracy
metric, `model.fit` with `validation_data`, batch 32, shuffled) and writes each epoch's time
as its median step sets it (`EpochClock`), as JSON lines.

Run with `KERAS_BACKEND=tensorflow` (the parent sets it).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import keras

from bntui.claims.cells import CellSpec
from bntui.claims.worker.train import build, data, standardized
from bntui.training.common import seed_everything


class EpochClock(keras.callbacks.Callback):
    """Each epoch's time in the notebooks' harness, as its steady step sets it: the median
    step's wall (and CPU) time times the epoch's steps. An epoch of a few hundred steps is
    too short for its own total to be steady: `fit`'s per-epoch work (the validation pass,
    the tracing of its first epochs) swings it by half."""

    def __init__(self) -> None:
        super().__init__()
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._steps: list[tuple[float, float]] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._steps = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._started = (time.perf_counter(), time.process_time())

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        wall, cpu = self._started
        self._steps.append((time.perf_counter() - wall, time.process_time() - cpu))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        count = len(self._steps)
        self.wall.append(round(statistics.median(w for w, _ in self._steps) * count, 5))
        self.cpu.append(round(statistics.median(c for _, c in self._steps) * count, 5))


def train_seed(cell: CellSpec, seed: int) -> dict[str, Any]:
    """One seed's model trained with `fit`; its timed epochs and parameter count."""
    d = data()
    x, y = d["x_train"][: cell.train_size], d["y_train"][: cell.train_size]
    xv, yv = d["x_valid"][: cell.valid_size], d["y_valid"][: cell.valid_size]
    if cell.inputs == "standardized":
        x, xv = standardized(x, xv)
    seed_everything(seed, "tensorflow")
    model = build(cell)
    model.compile(loss=model.loss, optimizer=model.optimizer, metrics=["accuracy"])
    clock = EpochClock()
    model.fit(
        x,
        y,
        batch_size=cell.batch_size,
        epochs=cell.epochs,
        validation_data=(xv, yv),
        verbose=0,
        callbacks=[clock],
    )
    return {
        "seed": seed,
        "epoch_seconds": clock.wall,
        "epoch_cpu_seconds": clock.cpu,
        "params": int(model.count_params()),
    }


def main() -> None:
    """Train the cell on stdin, seed by seed, reporting progress and then the results."""
    spec = json.loads(sys.stdin.read())
    spec["seeds"] = tuple(spec["seeds"])
    cell = CellSpec(**spec)
    results = []
    for k, seed in enumerate(cell.seeds):
        results.append(train_seed(cell, seed))
        print(json.dumps({"progress": (k + 1) / len(cell.seeds)}), flush=True)
    print(json.dumps({"results": results}), flush=True)


if __name__ == "__main__":
    main()
