"""The seeds of one model trained as one program: Keras' `train_step` under `jax.vmap`.

Seeds of a model are independent copies of the same computation, so their states (weights,
BN statistics, optimizer and metric variables) are stacked along a new first axis and Keras'
own `train_step(state, data)` runs under `jax.vmap`, inside the `jax.lax.scan` over a group of
steps that `bntui.training.fused` uses for one seed. Evaluation runs vmapped too. One Keras
model is the program; `load` puts one seed's state into it for what Keras does itself
(`evaluate`, `predict`, the layer probe).

Both multi-seed trainers stand on this: `bntui run --seeds N` (`bntui.training.seedtrain`) and
each cell of the claims battery (`bntui.claims.worker.train`).

Imported only inside JAX worker processes.
"""

from __future__ import annotations

from typing import Any

import jax
import keras
import numpy as np

from bntui.training.fused import scan_steps


def ready_to_train(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """Build compiled `model`'s variables and its optimizer's on a batch of `x`/`y`, as
    Keras' `fit` would before its first step; return the model."""
    model._symbolic_build(data_batch=(x[:2], y[:2]))
    model.optimizer.build(model.trainable_variables)
    return model


def model_state(model: Any) -> tuple[list[Any], ...]:
    """Keras' JAX trainer state of a built model: trainable, non-trainable, optimizer and
    metric variables, in the order `train_step` takes them."""
    return tuple([v.value for v in group] for group in _variables(model))


def _variables(model: Any) -> tuple[list[Any], ...]:
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )


class SeedStack:
    """The seeds of one model, stacked: one Keras model as the program, N states as data.

    `models` are the seeds' models, built and ready to train (`ready_to_train`), in seed
    order. With `vmapped=False` a single seed trains without `jax.vmap`: the very program
    one seed runs alone (what a timed measurement needs).
    """

    def __init__(self, models: list[Any], vmapped: bool = True) -> None:
        assert models and (vmapped or len(models) == 1)
        self.count = len(models)
        self.vmapped = vmapped
        self.model = model = models[0]  # holds seed 0's variables until `load` puts another's
        self.state = jax.tree.map(lambda *parts: jax.numpy.stack(parts), *map(model_state, models))
        # On the host: the jitted steps donate (consume) the state they are given.
        self.fresh_metrics = jax.tree.map(np.asarray, self.state[3])
        self._where = {
            id(variable): (group, index)
            for group, variables in enumerate(_variables(model))
            for index, variable in enumerate(variables)
        }
        step = jax.vmap(model.train_step) if vmapped else model.train_step
        self._single = jax.jit(step, donate_argnums=0)

        def scanned(state: Any, batches: Any) -> tuple[Any, Any]:
            # Running means: the group's last step holds them (and the gradient norm).
            return scan_steps(model, step, state, batches)

        self._scanned = jax.jit(scanned, donate_argnums=0)

        def scores(trainable: Any, non_trainable: Any, x: Any, y: Any) -> tuple[Any, Any]:
            probs, _ = model.stateless_call(trainable, non_trainable, x, training=False)
            loss = keras.losses.sparse_categorical_crossentropy(y, probs)
            right = jax.numpy.argmax(probs, axis=-1) == y.astype("int32")
            return jax.numpy.sum(loss), jax.numpy.sum(right.astype("float32"))

        self._scores = jax.jit(jax.vmap(scores, in_axes=(0, 0, None, None)))

    def reset_metrics(self) -> None:
        """Start an epoch's running means afresh, as Keras' `fit` does."""
        trainable, non_trainable, optimizer, _ = self.state
        self.state = (trainable, non_trainable, optimizer, self.fresh_metrics)

    def train(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Run the steps in `x`/`y` (axes: step, seed, batch, ...): several as one scan, one
        alone. Return Keras' logs after the last step, one value per seed."""
        state = self.state if self.vmapped else jax.tree.map(lambda v: v[0], self.state)
        if not self.vmapped:
            x, y = x[:, 0], y[:, 0]
        if len(x) > 1:
            logs, state = self._scanned(state, (x, y))
        else:
            logs, state = self._single(state, (x[0], y[0]))
        if not self.vmapped:
            state, logs = jax.tree.map(lambda v: v[None], (state, logs))
        self.state = state
        return {name: np.asarray(values) for name, values in logs.items()}

    def read(self, variable: Any) -> np.ndarray:
        """The value of the program model's `variable` for every seed (axis 0: seed)."""
        group, index = self._where[id(variable)]
        return np.asarray(self.state[group][index])

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch: int) -> tuple[np.ndarray, ...]:
        """Each seed's mean loss and accuracy on `x`/`y`, in inference mode, `batch` images
        at a time."""
        loss, right = np.zeros(self.count), np.zeros(self.count)
        trainable, non_trainable = self.state[0], self.state[1]
        for start in range(0, len(x), batch):
            part_loss, part_right = self._scores(
                trainable, non_trainable, x[start : start + batch], y[start : start + batch]
            )
            loss, right = loss + np.asarray(part_loss), right + np.asarray(part_right)
        return loss / len(x), right / len(x)

    def load(self, seed_index: int) -> Any:
        """Put seed `seed_index`'s state into the Keras model and return the model."""
        for group, values in zip(_variables(self.model), self.state):
            for variable, value in zip(group, values):
                variable.assign(value[seed_index])
        return self.model
