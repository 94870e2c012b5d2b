"""Run one cell to its results: the training loop, the measurement points, the timing.

Worker side (imports `bntui.claims.worker.train`, hence Keras). What it returns is the
`SeedResult` data of the claims file, one entry per seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bntui.claims.cells import CellSpec
from bntui.claims.worker.landscape import landscape_epochs
from bntui.claims.worker.train import Cell
from bntui.training.cadence import Cadence
from bntui.training.common import finite_float
from bntui.training.seedtrain import data_order

Progress = Callable[[float], None]


def drift(before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray]) -> float:
    """How far a layer's activation distribution moved between two probe points: the mean
    change of its units' means and spreads, relative to their mean spread before."""
    (m0, s0), (m1, s1) = before, after
    scale = float(np.mean(s0)) + 1e-8
    return float(np.mean(np.abs(m1 - m0)) + np.mean(np.abs(s1 - s0))) / scale


def run_cell(cell: CellSpec, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Train `cell` and return each seed's results (the claims file's `results`)."""
    if cell.timed:
        results: list[dict[str, Any]] = []
        for k, seed in enumerate(cell.seeds):
            part = None if progress is None else _scaled(progress, k, len(cell.seeds))
            results += _train(cell, (seed,), part)
        return results
    return _train(cell, cell.seeds, progress)


def _scaled(progress: Progress, k: int, n: int) -> Progress:
    return lambda fraction: progress((k + fraction) / n)


def _train(cell: CellSpec, seeds: tuple[int, ...], progress: Progress | None) -> list[dict]:
    stack = Cell(cell, seeds)
    count, size = len(seeds), cell.batch_size
    steps = cell.steps_per_epoch
    evals = Cadence(steps, cell.evals_per_epoch, "nearest")
    probes = Cadence(steps, cell.probes_per_epoch, "nearest")
    out: list[dict[str, Any]] = [
        {
            "seed": s,
            "steps": [],
            "val_accuracy": [],
            "val_loss": [],
            "probe_steps": [],
            "layer_grads": [],
            "epoch_seconds": [],
            "epoch_cpu_seconds": [],
            "params": stack.params,
            "diverged": False,
            "landscape": [],
        }
        for s in seeds
    ]
    drifts: list[np.ndarray] = []
    last_moments: list[tuple[np.ndarray, np.ndarray]] = []

    def evaluate(step: int) -> None:
        loss, accuracy = stack.evaluate()
        for k in range(count):
            out[k]["steps"].append(step)
            out[k]["val_loss"].append(finite_float(loss[k]))
            out[k]["val_accuracy"].append(finite_float(accuracy[k]))

    def probe(step: int) -> None:
        nonlocal last_moments
        norms, moments = stack.probe()
        for k in range(count):
            out[k]["probe_steps"].append(step)
            out[k]["layer_grads"].append([finite_float(v) for v in norms[k]])
        if last_moments:
            drifts.append(
                np.array(
                    [
                        [
                            drift((m0[k], s0[k]), (m1[k], s1[k]))
                            for (m0, s0), (m1, s1) in zip(last_moments, moments)
                        ]
                        for k in range(count)
                    ]
                )
            )
        last_moments = moments

    def landscape(step: int) -> None:
        if stack.landscape is not None:
            for k, point in enumerate(stack.landscape.measure(stack.stack.state, step)):
                out[k]["landscape"].append(point)

    landscape_at = landscape_epochs(cell)
    evaluate(0)
    if probes.points:
        probe(0)
    landscape(0)
    for epoch in range(cell.epochs):
        started, cpu_started = time.perf_counter(), time.process_time()
        orders = np.stack([data_order(s, epoch, cell.train_size) for s in seeds])
        evals.restart()
        probes.restart()
        done = 0
        # Training stops at every point, so a point is due exactly where it lies.
        for stop in sorted({*evals.points, *probes.points, steps}):
            picks = orders[:, done * size : stop * size].reshape(count, stop - done, size)
            picks = picks.swapaxes(0, 1)
            losses = stack.train(stack.x[picks], stack.y[picks])
            for k in range(count):
                if finite_float(losses[k]) is None:
                    out[k]["diverged"] = True
            done = stop
            at = epoch * steps + stop
            if stop == steps:  # the epoch's time: its training steps only
                took = time.perf_counter() - started
                # CPU time beside it: a timed epoch that got less than its core was slowed
                # by something else on the machine.
                cpu = time.process_time() - cpu_started
                for k in range(count):
                    out[k]["epoch_seconds"].append(round(took, 5))
                    out[k]["epoch_cpu_seconds"].append(round(cpu, 5))
            if evals.due(stop):
                evaluate(at)
            if probes.due(stop):
                probe(at)
            if stop == steps and epoch + 1 in landscape_at:
                landscape(at)
            if progress is not None:
                progress((epoch + stop / steps) / cell.epochs)
    _, train_accuracy = stack.scores(stack.x, stack.y)
    train_mode = stack.train_mode_accuracy() if cell.train_mode else None
    total = np.sum(drifts, axis=0) if drifts else None
    for k in range(count):
        out[k]["train_accuracy"] = finite_float(train_accuracy[k])
        out[k]["train_mode_accuracy"] = None if train_mode is None else finite_float(train_mode[k])
        out[k]["activation_drift"] = [] if total is None else [finite_float(v) for v in total[k]]
    return out
