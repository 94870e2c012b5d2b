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
from bntui.claims.worker.deployment import end_checks
from bntui.claims.worker.fit import run_fit_cell
from bntui.claims.worker.inference import inference_costs
from bntui.claims.worker.landscape import landscape_epochs
from bntui.claims.worker.train import Cell, data
from bntui.training.cadence import Cadence
from bntui.training.common import finite_float
from bntui.training.seedtrain import data_order

Progress = Callable[[float], None]
# A step's loss is a spike when it is over this many times its epoch's median step loss.
SPIKE = 3.0


def drift(before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray]) -> float:
    """How far a layer's activation distribution moved between two probe points: the mean
    change of its units' means and spreads, relative to their mean spread before."""
    (m0, s0), (m1, s1) = before, after
    scale = float(np.mean(s0)) + 1e-8
    return float(np.mean(np.abs(m1 - m0)) + np.mean(np.abs(s1 - s0))) / scale


def run_cell(cell: CellSpec, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Train `cell` and return each seed's results (the claims file's `results`)."""
    if cell.harness == "fit":
        return run_fit_cell(cell, progress)
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
    last_epoch: list[np.ndarray] = []  # per-step losses (step × seed), claim small-batches
    last_moments: list[tuple[np.ndarray, np.ndarray]] = []

    precise = cell.precise_bn and cell.batch_norm

    def evaluate(step: int) -> None:
        loss, accuracy = stack.evaluate()
        if precise:
            moving = accuracy
            loss, accuracy = stack.precise_evaluate()
        for k in range(count):
            out[k]["steps"].append(step)
            out[k]["val_loss"].append(finite_float(loss[k]))
            out[k]["val_accuracy"].append(finite_float(accuracy[k]))
            if precise:
                out[k].setdefault("val_accuracy_moving", []).append(finite_float(moving[k]))

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
            # Every epoch on the per-step program (one program to compile, not two).
            if cell.step_losses:
                each = stack.train_each(stack.x[picks], stack.y[picks])
                # A seed whose loss was not finite at any step diverged.
                losses = np.where(np.isfinite(each).all(axis=0), each[-1], np.nan)
                if epoch == cell.epochs - 1:
                    last_epoch.append(each)
            else:
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
    if cell.timed:  # one seed: its inference time, and BN's folded into the Dense layers
        out[0].update(inference_costs(cell, stack.stack.load(0), data()["x_valid"]))
    for k in range(count):
        out[k]["train_accuracy"] = finite_float(train_accuracy[k])
        out[k]["train_mode_accuracy"] = None if train_mode is None else finite_float(train_mode[k])
        out[k]["activation_drift"] = [] if total is None else [finite_float(v) for v in total[k]]
    if cell.end_checks:
        for k, checks in enumerate(end_checks(stack)):
            out[k].update(checks)
    if last_epoch:
        _step_loss_summary(out, np.concatenate(last_epoch))
    return out


def _step_loss_summary(out: list[dict[str, Any]], losses: np.ndarray) -> None:
    """Each seed's per-step training losses over the last epoch (step × seed), summarised:
    their mean, their spread (standard deviation) and the share of spikes (steps whose loss
    is over `SPIKE` times the epoch's median)."""
    for k in range(len(out)):
        seed = losses[:, k]
        if not np.all(np.isfinite(seed)):
            continue
        median = float(np.median(seed))
        out[k]["step_loss_mean"] = finite_float(np.mean(seed))
        out[k]["step_loss_std"] = finite_float(np.std(seed))
        out[k]["step_loss_spikes"] = finite_float(np.mean(seed > SPIKE * median))
