"""`bntui run --seeds N`: every seed of one model trained at once (`bntui.training.stack`), and
each seed's events streamed as Keras' `fit` streams one seed's.

Each seed gets its own batches: seed s sees the training images in the order
`data_order(s, epoch)`, whichever model it trains, which is what pairs seed s of the plain
model with seed s of the BN model. Whole groups of steps run as one scan; the rest of an
epoch (and its short last batch) step by step. Test results and the layer probe load one
seed's state into the Keras model and use Keras' own `evaluate` and `predict`.

Imported only inside JAX worker processes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bntui.core.events import BatchProgress, EpochEnd, LayerStats, ModelDone
from bntui.training import emit
from bntui.training.cadence import Cadence
from bntui.training.common import is_diverged, resume_collection, seed_everything
from bntui.training.models import build_model
from bntui.training.stack import SeedStack, ready_to_train

if TYPE_CHECKING:
    from bntui.training.setting import Setting


def data_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the `n` training images in `epoch` for seed `seed`: the same for both
    models, different for each seed and epoch, and independent of how many seeds run."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def order_digest(order: np.ndarray) -> str:
    """A short digest of an epoch's image order (what the run file records)."""
    return hashlib.blake2b(order.astype(np.int64).tobytes(), digest_size=8).hexdigest()


def seed_stack(setting: Setting) -> SeedStack:
    """The seeds of `setting`'s model, each built from its own seed, stacked."""
    spec, data = setting.spec, setting.data
    models = []
    for seed in spec.seed_values:
        seed_everything(seed, spec.backend)
        models.append(ready_to_train(build_model(spec, setting.key), data.x_train, data.y_train))
    return SeedStack(models)


def train_seeds(setting: Setting) -> SeedStack:
    """Train every seed of `setting.spec` at once and stream each seed's events; return the
    trained stack."""
    spec, key, writer, data = setting.spec, setting.key, setting.writer, setting.data
    stack = seed_stack(setting)
    resume_collection()
    seeds = spec.seed_values
    # Every seed's model is the same model: its description is built once.
    ready = setting.ready(stack.model, 0)
    for index in range(len(seeds)):
        writer.emit(replace(ready, seed=index, t=writer.now()))
    probe = setting.probe(stack.model)
    n, batch = len(data.y_train), spec.batch_size
    steps = spec.steps_per_epoch
    group = spec.effective_steps_per_execution()
    points = Cadence(steps, spec.curve_points_per_epoch, "every")
    probes = Cadence(steps, spec.inside_per_epoch, "up")
    alive = [True] * len(seeds)  # a seed that diverged is no longer reported (by default)
    diverged = [False] * len(seeds)

    def measure(position: float) -> None:
        if probe and alive[0]:
            stack.load(0)
            writer.emit(
                LayerStats(
                    model=key,
                    t=writer.now(),
                    seed=0,
                    position=round(position, 4),
                    layers=probe.measure(),
                )
            )

    measure(0.0)
    for epoch in range(spec.epochs):
        started = time.perf_counter()
        stack.reset_metrics()
        points.restart()
        probes.restart()
        orders = np.stack([data_order(seed, epoch, n) for seed in seeds])
        step = 0
        logs: dict[str, Any] = {}
        while step < steps:
            # Whole groups as one scan; the rest (and a short last batch) step by step.
            size = group if step + group <= n // batch else 1
            indices = orders[:, step * batch : (step + size) * batch]
            per_step = indices.shape[1] // size
            picks = indices.reshape(len(seeds), size, per_step).swapaxes(0, 1)
            logs = stack.train(data.x_train[picks], data.y_train[picks])
            step += size
            if probe and probes.due(step):
                measure(epoch + step / steps)
            if not points.due(step):
                continue
            values = emit.step_values(stack.model, stack.read, logs, len(seeds))
            for index in range(len(seeds)):
                if not alive[index]:
                    continue
                writer.emit(
                    BatchProgress(
                        model=key,
                        t=writer.now(),
                        seed=index,
                        epoch=epoch,
                        step=step,
                        steps=steps,
                        values=values[index],
                    )
                )
                if is_diverged(values[index].get("loss")) and not diverged[index]:
                    diverged[index] = True
                    if spec.stop_on_divergence:
                        alive[index] = False
                        writer.emit(
                            ModelDone(model=key, t=writer.now(), seed=index, status="diverged")
                        )
            if spec.stop_on_divergence and not any(alive):
                break
        if not any(alive):
            break
        val_loss, val_accuracy = stack.evaluate(data.x_valid, data.y_valid, setting.eval_batch)
        took = round(time.perf_counter() - started, 4)
        ended = {**logs, "val_loss": val_loss, "val_accuracy": val_accuracy, "epoch_time_s": took}
        values = emit.epoch_values(stack.model, stack.read, ended, len(seeds))
        for index in range(len(seeds)):
            if alive[index]:
                writer.emit(
                    EpochEnd(
                        model=key,
                        t=writer.now(),
                        seed=index,
                        epoch=epoch,
                        values=values[index],
                        data_order=order_digest(orders[index]),
                    )
                )
    for index in range(len(seeds)):
        if not alive[index]:
            continue
        if diverged[index]:
            writer.emit(ModelDone(model=key, t=writer.now(), seed=index, status="diverged"))
            continue
        writer.emit(setting.test_result(stack.load(index), index))
        writer.emit(ModelDone(model=key, t=writer.now(), seed=index, status="completed"))
    return stack
