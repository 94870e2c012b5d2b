"""The child process of the notebooks' harness (`bntui.claims.worker.fit`): reads a cell
spec as JSON on stdin, trains each seed as notebook 000 timed it (`compile` with the accuracy
metric, `model.fit` with `validation_data`, batch 32, shuffled) and writes each epoch's wall
and CPU time (its validation pass included, as in the notebook's timing) as JSON lines.

Run with `KERAS_BACKEND=tensorflow` (the parent sets it).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import keras

from bntui.claims.cells import CellSpec
from bntui.claims.worker.train import build, data, standardized
from bntui.training.common import seed_everything


class EpochClock(keras.callbacks.Callback):
    """Each epoch's wall and CPU time, as the notebooks' harness spends it."""

    def __init__(self) -> None:
        super().__init__()
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._started = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.wall.append(round(time.perf_counter() - self._started[0], 5))
        self.cpu.append(round(time.process_time() - self._started[1], 5))


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
