"""What is a cell's own on top of the stacked-seed trainer: its models (the MLP and the deep
stack, with or without BN, their activation, initializer and scale) and its measurements.

Runs inside a worker process (it imports Keras and JAX). The seeds of a cell train as one
program on `bntui.training.stack.SeedStack`, as `bntui run --seeds` does, in scans over the
steps between two measurements. Seed s sees the training slice in the order
`data_order(s, epoch)` in every cell, which pairs the cells' seeds. A timed cell trains each
seed alone instead, so that an epoch's time is one model's.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np
from keras import layers

from bntui.claims.cells import DEEP_WIDTH, PRECISE_SIZE, STANDARDIZE_EPSILON, CellSpec
from bntui.claims.worker.landscape import Landscape
from bntui.claims.worker.noisy import DistributionNoise
from bntui.claims.worker.norms import StepLosses, norm_layer
from bntui.training.common import seed_everything
from bntui.training.data import load_splits
from bntui.training.stack import SeedStack, ready_to_train

PROBE_SIZE = 256
ACTIVATIONS = (layers.Activation, layers.LeakyReLU)
EVAL_CHUNK = 1_000
_DATA: dict[str, np.ndarray] = {}


def data() -> dict[str, np.ndarray]:
    """Fashion-MNIST once per process: the 55,000 training and 5,000 validation images."""
    if not _DATA:
        splits = load_splits("fashion_mnist", 5_000, None)
        _DATA.update(
            x_train=splits.x_train,
            y_train=splits.y_train,
            x_valid=splits.x_valid,
            y_valid=splits.y_valid,
        )
    return _DATA


def standardized(x: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """`x` and `others` standardised per pixel with `x`'s mean and variance, as a BN layer
    with population statistics would (`STANDARDIZE_EPSILON`)."""
    mean = x.mean(axis=0)
    scale = np.sqrt(x.var(axis=0) + STANDARDIZE_EPSILON)
    return tuple(((a - mean) / scale).astype(x.dtype) for a in (x, *others))


def _activation(name: str) -> Any:
    return layers.LeakyReLU() if name == "leaky_relu" else layers.Activation(name)


def build(cell: CellSpec, seed: int = 0) -> keras.Model:
    """The cell's model, compiled with SGD at its learning rate (`seed`: the noisy BN arm's
    noise).

    MLP: the notebooks' shape (Dense 300, Dense 100), BN before each Dense as in their BN
    model (without the first, on the pixels, unless `input_bn`). Deep: `depth` Dense layers,
    BN between each Dense and its activation.
    """
    stack: list[Any] = [layers.Flatten()]
    widths = [DEEP_WIDTH] * cell.depth if cell.family == "deep" else [300, 100]
    for index, width in enumerate(widths):
        if cell.batch_norm and cell.family == "mlp" and (index or cell.input_bn):
            stack.append(norm_layer(cell))
            if cell.bn_noise and index:  # after the hidden BNs: internal shift, not the data's
                stack.append(DistributionNoise(cell.bn_noise, seed * 8 + index))
        stack.append(layers.Dense(width, kernel_initializer=cell.initializer))
        if cell.batch_norm and cell.family == "deep":
            stack.append(layers.BatchNormalization())
        stack.append(_activation(cell.activation))
        if cell.dropout:
            stack.append(layers.Dropout(cell.dropout))
    if cell.batch_norm and cell.family == "mlp":
        stack.append(norm_layer(cell))
        if cell.bn_noise:
            stack.append(DistributionNoise(cell.bn_noise, seed * 8 + len(widths)))
    stack.append(layers.Dense(10, activation="softmax", kernel_initializer=cell.initializer))
    model = keras.Sequential([keras.Input((28, 28)), *stack])
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.SGD(learning_rate=cell.learning_rate),
    )
    return model


def built(cell: CellSpec, seed: int, x: np.ndarray, y: np.ndarray) -> keras.Model:
    """Seed `seed`'s model, built, its kernels scaled by the cell's `init_scale`."""
    seed_everything(seed, "jax")
    model = ready_to_train(build(cell, seed), x, y)
    if cell.init_scale != 1.0:
        for layer in model.layers:
            if isinstance(layer, layers.Dense):
                layer.kernel.assign(layer.kernel * cell.init_scale)
    return model


class Cell:
    """A cell's seeds on one `SeedStack`, with the programs that take the cell's own
    measurements (the probe, accuracy with batch statistics, the loss landscape)."""

    def __init__(self, cell: CellSpec, seeds: tuple[int, ...]) -> None:
        d = data()
        self.cell, self.seeds = cell, seeds
        self.x, self.y = d["x_train"][: cell.train_size], d["y_train"][: cell.train_size]
        self.xv, self.yv = d["x_valid"][: cell.valid_size], d["y_valid"][: cell.valid_size]
        if cell.inputs == "standardized":
            self.x, self.xv = standardized(self.x, self.xv)
        self.probe_x, self.probe_y = self.x[:PROBE_SIZE], self.y[:PROBE_SIZE]
        models = [built(cell, s, self.x, self.y) for s in seeds]
        # A timed cell's one seed trains without vmap: the program `bntui run` runs.
        self.stack = SeedStack(models, vmapped=not (cell.timed and len(seeds) == 1))
        self.step_losses = StepLosses(self.stack) if cell.step_losses else None
        model = self.stack.model
        self.params = int(model.count_params())
        dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
        # Each hidden layer's activations, where the BN model's next BN takes them: before
        # they are normalised (after normalisation their moments are β and γ by design).
        hidden = [layer for layer in model.layers if isinstance(layer, ACTIVATIONS)]
        taps = keras.Model(model.inputs, [layer.output for layer in hidden])
        where = {id(v): i for i, v in enumerate(model.trainable_variables)}
        kernels = [where[id(layer.kernel)] for layer in dense]
        tap_t = [where[id(v)] for v in taps.trainable_variables]
        nwhere = {id(v): i for i, v in enumerate(model.non_trainable_variables)}
        tap_n = [nwhere[id(v)] for v in taps.non_trainable_variables]

        def batch_mode(tv: Any, ntv: Any, xs: Any, ys: Any) -> Any:
            def right(batch: Any) -> Any:
                probs, _ = model.stateless_call(tv, ntv, batch[0], training=True)
                hits = jnp.argmax(probs, axis=-1) == batch[1].astype("int32")
                return jnp.sum(hits.astype("float32"))

            return jnp.sum(jax.lax.map(right, (xs, ys)))

        self._batch_mode = jax.jit(jax.vmap(batch_mode, in_axes=(0, 0, None, None)))

        def loss_of(tv: Any, ntv: Any, x: Any, y: Any) -> Any:
            probs, _ = model.stateless_call(tv, ntv, x, training=True)
            return jnp.mean(keras.losses.sparse_categorical_crossentropy(y, probs))

        def probe(tv: Any, ntv: Any, x: Any, y: Any) -> Any:
            grads = jax.grad(loss_of)(tv, ntv, x, y)
            norms = jnp.stack([jnp.linalg.norm(grads[i]) for i in kernels])
            # Training mode: the activations as training sees them (BN with the batch's
            # statistics, not running averages that lag behind early in training).
            outputs, _ = taps.stateless_call(
                [tv[i] for i in tap_t], [ntv[i] for i in tap_n], x, training=True
            )
            moments = [(jnp.mean(h, axis=0), jnp.std(h, axis=0)) for h in outputs]
            return norms, moments

        self._probe = jax.jit(jax.vmap(probe, in_axes=(0, 0, None, None)))
        self.norms = [
            layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)
        ]
        self.noises = [layer for layer in model.layers if isinstance(layer, DistributionNoise)]
        self.dropouts = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]

        def population(tv: Any, ntv: Any, x: Any) -> Any:
            # One training-mode pass over the whole population, each BN's momentum 0 while
            # this traces: its "moving" statistics become the population's (each layer's
            # computed with the earlier layers normalised by theirs).
            _, new = model.stateless_call(tv, ntv, x, training=True)
            return new

        self._population = jax.jit(jax.vmap(population, in_axes=(0, 0, None)))
        self.landscape = (
            Landscape(model, self.probe_x, self.probe_y, kernels, cell.learning_rate)
            if cell.landscape_points
            else None
        )

    def train(self, batches_x: np.ndarray, batches_y: np.ndarray) -> np.ndarray:
        """Run the steps (axes: step, seed, batch, ...); each seed's loss after the last."""
        return self.stack.train(batches_x, batches_y)["loss"]

    def train_each(self, batches_x: np.ndarray, batches_y: np.ndarray) -> np.ndarray:
        """Run the steps as `train` does; each step's loss (step × seed). Only for a cell
        that records step losses."""
        assert self.step_losses is not None
        return self.step_losses.train(batches_x, batches_y)

    def evaluate(self) -> tuple[np.ndarray, ...]:
        """Each seed's validation loss and accuracy in inference mode."""
        return self.scores(self.xv, self.yv)

    def precise_evaluate(self) -> tuple[np.ndarray, ...]:
        """Each seed's validation loss and accuracy in inference mode with BN's statistics
        recomputed over the first `PRECISE_SIZE` training images (precise BN); the moving
        averages are left as they were."""
        saved = self.stack.state
        # While the population program traces: each BN's momentum 0, and the layers that
        # perturb only in training (the noisy arm's noise, dropout) off, as at inference.
        settings = [(layer, "momentum", 0.0) for layer in self.norms]
        settings += [(layer, "amount", 0.0) for layer in self.noises]
        settings += [(layer, "rate", 0.0) for layer in self.dropouts]
        kept = [getattr(layer, name) for layer, name, _ in settings]
        for layer, name, value in settings:
            setattr(layer, name, value)
        try:
            stats = self._population(saved[0], saved[1], self.x[:PRECISE_SIZE])
        finally:
            for (layer, name, _), value in zip(settings, kept):
                setattr(layer, name, value)
        self.stack.state = (saved[0], stats, *saved[2:])
        try:
            return self.evaluate()
        finally:
            self.stack.state = saved

    def scores(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each seed's mean loss and accuracy on `x`/`y` in inference mode."""
        return self.stack.evaluate(x, y, EVAL_CHUNK)

    def train_mode_accuracy(self) -> np.ndarray:
        """Each seed's validation accuracy with batch statistics, in the cell's batches."""
        size = self.cell.batch_size
        n = len(self.xv) // size * size
        xs = self.xv[:n].reshape(n // size, size, *self.xv.shape[1:])
        ys = self.yv[:n].reshape(n // size, size)
        state = self.stack.state
        return np.asarray(self._batch_mode(state[0], state[1], xs, ys)) / n

    def probe(self) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """On the probe batch: each seed's gradient norm per Dense kernel, and each hidden
        layer's activation mean and spread per unit, before any BN (training mode)."""
        state = self.stack.state
        norms, moments = self._probe(state[0], state[1], self.probe_x, self.probe_y)
        return np.asarray(norms), [(np.asarray(m), np.asarray(s)) for m, s in moments]
