"""Run one cell to its results: the training loop, the measurement points, the timing.

Worker side (imports `bntui.claims.worker.train`, hence Keras). What it returns is the
`SeedResult` data of the claims file, one entry per seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bntui.claims.cells import CellSpec
from bntui.claims.worker.train import Cell
from bntui.training.common import finite_float
from bntui.training.seedtrain import data_order

Progress = Callable[[float], None]


def _points(steps: int, per_epoch: int) -> list[int]:
    """The steps of an epoch after which to measure (`per_epoch` of them, the last = end)."""
    if per_epoch <= 0:
        return []
    return sorted({max(1, round(k * steps / per_epoch)) for k in range(1, per_epoch + 1)})


def drift(before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray]) -> float:
    """How far a layer's input distribution moved between two probe points: the mean change
    of its units' means and spreads, relative to their mean spread before."""
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
    evals = _points(steps, cell.evals_per_epoch)
    probes = _points(steps, cell.probes_per_epoch)
    out: list[dict[str, Any]] = [
        {"seed": s, "steps": [], "val_accuracy": [], "val_loss": [], "probe_steps": [],
         "layer_grads": [], "epoch_seconds": [], "epoch_cpu_seconds": [],
         "params": stack.params, "diverged": False}
        for s in seeds
    ]  # fmt: skip
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
            drifts.append(np.array([[drift((m0[k], s0[k]), (m1[k], s1[k]))
                                     for (m0, s0), (m1, s1) in zip(last_moments, moments)]
                                    for k in range(count)]))  # fmt: skip
        last_moments = moments

    evaluate(0)
    if probes:
        probe(0)
    for epoch in range(cell.epochs):
        started, cpu_started = time.perf_counter(), time.process_time()
        orders = np.stack([data_order(s, epoch, cell.train_size) for s in seeds])
        done = 0
        for stop in sorted(set(evals) | set(probes) | {steps}):
            picks = orders[:, done * size : stop * size].reshape(count, stop - done, size)
            picks = picks.swapaxes(0, 1)
            losses = stack.train(stack.x[picks], stack.y[picks])
            for k in range(count):
                if not math.isfinite(float(losses[k])):
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
            if stop in evals:
                evaluate(at)
            if stop in probes:
                probe(at)
            if progress is not None:
                progress((epoch + stop / steps) / cell.epochs)
    _, train_accuracy = stack.scores(stack.x, stack.y)
    train_mode = stack.train_mode_accuracy() if cell.train_mode else None
    total = np.sum(drifts, axis=0) if drifts else None
    for k in range(count):
        out[k]["train_accuracy"] = finite_float(train_accuracy[k])
        out[k]["train_mode_accuracy"] = None if train_mode is None else finite_float(train_mode[k])
        out[k]["input_drift"] = [] if total is None else [finite_float(v) for v in total[k]]
    return out
