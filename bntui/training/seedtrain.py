"""Several seeds of one model trained as one program: `jax.vmap` over Keras' `train_step`.

Seeds of a model are independent copies of the same computation, so the worker stacks
their states (weights, BN statistics, optimizer and metric variables) along a new first
axis and runs Keras' own `train_step(state, data)` under `jax.vmap`, inside the same
`jax.lax.scan` over a group of steps that `bntui.training.fused` uses for one seed. Each seed gets
its own batches: seed s sees the training images in the order `data_order(s, epoch)`,
whichever model it trains, which is what pairs seed s of the plain model with seed s of
the BN model. Validation runs vmapped too; test results and the layer probe load one
seed's state into the Keras model and use Keras' own `evaluate` and `predict`.

Imported only inside JAX worker processes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import jax
import keras
import numpy as np

from bntui.core.events import BatchProgress, EpochEnd, LayerStats, ModelDone
from bntui.core.metrics import STEP_METRICS
from bntui.training.common import finite_float, is_diverged, seed_everything
from bntui.training.models import build_model

if TYPE_CHECKING:
    from bntui.training.setting import Setting


def data_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the `n` training images in `epoch` for seed `seed`: the same for both
    models, different for each seed and epoch, and independent of how many seeds run."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def order_digest(order: np.ndarray) -> str:
    """A short digest of an epoch's image order (what the run file records)."""
    return hashlib.blake2b(order.astype(np.int64).tobytes(), digest_size=8).hexdigest()


def model_state(model: Any) -> tuple[list[Any], ...]:
    """Keras' JAX trainer state of a built model: trainable, non-trainable, optimizer and
    metric variables, in the order `train_step` takes them."""
    return (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )


class SeedStack:
    """The seeds of one model, stacked: one Keras model as the program, N states as data."""

    def __init__(self, setting: Setting) -> None:
        spec, data = setting.spec, setting.data
        states = []
        first = None
        for seed in spec.seed_values:
            seed_everything(seed, spec.backend)
            model = build_model(spec, setting.key)
            model._symbolic_build(data_batch=(data.x_train[:2], data.y_train[:2]))
            model.optimizer.build(model.trainable_variables)
            states.append(model_state(model))
            first = first or model
        assert first is not None
        self.count = len(states)
        self.model = first  # holds seed 0's variables until `load` puts another's there
        self.state = jax.tree.map(lambda *parts: jax.numpy.stack(parts), *states)
        # On the host: the jitted steps donate (consume) the state they are given.
        self.fresh_metrics = jax.tree.map(np.asarray, self.state[3])
        names = [id(v) for v in first.optimizer.variables]
        self.norm_index = names.index(id(first.optimizer.gradient_norm))
        self._single = jax.jit(jax.vmap(first.train_step), donate_argnums=0)

        def scanned(state: Any, batches: Any) -> tuple[Any, Any]:
            def body(carry: Any, batch: Any) -> tuple[Any, Any]:
                logs, carry = jax.vmap(first.train_step)(carry, batch)
                return carry, logs

            state, logs = jax.lax.scan(body, state, batches)
            # Running means: the group's last step holds them.
            return jax.tree.map(lambda values: values[-1], logs), state

        self._scanned = jax.jit(scanned, donate_argnums=0)

        def scores(trainable: Any, non_trainable: Any, x: Any, y: Any) -> tuple[Any, Any]:
            def one(tv: Any, ntv: Any) -> tuple[Any, Any]:
                probs, _ = first.stateless_call(tv, ntv, x, training=False)
                loss = keras.losses.sparse_categorical_crossentropy(y, probs)
                right = keras.ops.argmax(probs, axis=-1) == keras.ops.cast(y, "int32")
                return keras.ops.sum(loss), keras.ops.sum(keras.ops.cast(right, "float32"))

            return jax.vmap(one)(trainable, non_trainable)

        self._scores = jax.jit(scores)

    def reset_metrics(self) -> None:
        """Start an epoch's running means afresh, as Keras' `fit` does."""
        trainable, non_trainable, optimizer, _ = self.state
        self.state = (trainable, non_trainable, optimizer, self.fresh_metrics)

    def train(self, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """Run the steps in `x`/`y` (axes: step, seed, batch, ...); return the last logs."""
        if len(x) > 1:
            logs, self.state = self._scanned(self.state, (x, y))
            return dict(logs)
        logs, self.state = self._single(self.state, (x[0], y[0]))
        return dict(logs)

    def gradient_norms(self) -> np.ndarray:
        """Each seed's gradient norm at its last step."""
        return np.asarray(self.state[2][self.norm_index])

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch: int) -> tuple[np.ndarray, ...]:
        """Each seed's mean loss and accuracy on `x`/`y`, in inference mode."""
        loss, right = np.zeros(self.count), np.zeros(self.count)
        trainable, non_trainable = self.state[0], self.state[1]
        for start in range(0, len(x), batch):
            part_loss, part_right = self._scores(
                trainable, non_trainable, x[start : start + batch], y[start : start + batch]
            )
            loss, right = loss + np.asarray(part_loss), right + np.asarray(part_right)
        return np.asarray(loss) / len(x), np.asarray(right) / len(x)

    def load(self, seed_index: int) -> Any:
        """Put seed `seed_index`'s state into the Keras model and return the model."""
        variables = (
            self.model.trainable_variables,
            self.model.non_trainable_variables,
            self.model.optimizer.variables,
            self.model.metrics_variables,
        )
        for group, values in zip(variables, self.state):
            for variable, value in zip(group, values):
                variable.assign(value[seed_index])
        return self.model


def train_seeds(setting: Setting) -> SeedStack:
    """Train every seed of `setting.spec` at once and stream each seed's events; return the
    trained stack."""
    spec, key, writer, data = setting.spec, setting.key, setting.writer, setting.data
    stack = SeedStack(setting)
    seeds = spec.seed_values
    # Every seed's model is the same model: its description is built once.
    ready = setting.ready(stack.model, 0)
    for index in range(len(seeds)):
        writer.emit(replace(ready, seed=index, t=writer.now()))
    probe = setting.probe(stack.model)
    n, batch = len(data.y_train), spec.batch_size
    steps = spec.steps_per_epoch
    group = spec.effective_steps_per_execution()
    every = max(1, steps // spec.curve_points_per_epoch)
    alive = [True] * len(seeds)  # a seed that diverged is no longer reported (by default)
    diverged = [False] * len(seeds)

    def measure(position: float) -> None:
        if probe and alive[0]:
            stack.load(0)
            writer.emit(
                LayerStats(model=key, t=writer.now(), seed=0, position=round(position, 4),
                           layers=probe.measure())
            )  # fmt: skip

    measure(0.0)
    for epoch in range(spec.epochs):
        started = time.perf_counter()
        stack.reset_metrics()
        orders = np.stack([data_order(seed, epoch, n) for seed in seeds])
        step, next_point, probe_k = 0, every, 1
        next_probe = -(-steps // max(1, spec.inside_per_epoch))
        logs: dict[str, Any] = {}
        while step < steps:
            # Whole groups as one scan; the rest (and a short last batch) step by step.
            size = group if step + group <= n // batch else 1
            indices = orders[:, step * batch : (step + size) * batch]
            per_step = indices.shape[1] // size
            picks = indices.reshape(len(seeds), size, per_step).swapaxes(0, 1)
            logs = stack.train(data.x_train[picks], data.y_train[picks])
            step += size
            if probe and spec.inside_per_epoch and step >= next_probe:
                while next_probe <= step:
                    probe_k += 1
                    next_probe = -(-probe_k * steps // spec.inside_per_epoch)
                measure(epoch + step / steps)
            if step < next_point and step < steps:
                continue
            next_point = (step // every + 1) * every
            norms = stack.gradient_norms()
            for index in range(len(seeds)):
                if not alive[index]:
                    continue
                values = {"gradient_norm": finite_float(norms[index])}
                values.update({m.name: finite_float(logs[m.name][index]) for m in STEP_METRICS
                               if m.name in logs})  # fmt: skip
                writer.emit(
                    BatchProgress(model=key, t=writer.now(), seed=index, epoch=epoch,
                                  step=step, steps=steps, values=values)
                )  # fmt: skip
                if is_diverged(values.get("loss")) and not diverged[index]:
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
        for index in range(len(seeds)):
            if alive[index]:
                values = {
                    "loss": finite_float(logs["loss"][index]),
                    "accuracy": finite_float(logs["accuracy"][index]),
                    "val_loss": finite_float(val_loss[index]),
                    "val_accuracy": finite_float(val_accuracy[index]),
                    "epoch_time_s": took,
                }
                writer.emit(
                    EpochEnd(model=key, t=writer.now(), seed=index, epoch=epoch, values=values,
                             data_order=order_digest(orders[index]))
                )  # fmt: skip
    for index in range(len(seeds)):
        if not alive[index]:
            continue
        if diverged[index]:
            writer.emit(ModelDone(model=key, t=writer.now(), seed=index, status="diverged"))
            continue
        writer.emit(setting.test_result(stack.load(index), index))
        writer.emit(ModelDone(model=key, t=writer.now(), seed=index, status="completed"))
    return stack
