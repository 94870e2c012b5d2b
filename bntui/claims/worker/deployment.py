"""The end-of-training checks of a cell with `end_checks` (claims robustness and inference):
measurements of the trained models as they would be deployed, no training.

- Robustness: each seed's validation accuracy on the corrupted images
  (`bntui.claims.corruptions`), in inference mode; for a BN model also with its statistics
  re-estimated on the corrupted images (AdaBN, Li et al. 2016): the model in training mode
  on the whole corrupted set as one batch normalises every BN's input with that set's own
  mean and variance, which is AdaBN's prediction.
- Inference: the same images predicted in batches of each other, each in a batch of other
  companions, and each alone, in inference mode and in training mode: the largest change of
  any predicted probability.

Runs inside a worker process (imports JAX through `Cell`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bntui.claims.corruptions import CORRUPTIONS, corrupt
from bntui.claims.worker.train import Cell, data, standardized
from bntui.training.common import finite_float

# The images whose predictions the inference check compares, and its batch size.
COMPANION_IMAGES = 64
COMPANION_BATCH = 32
# The companions' class: a batch of the images with 31 bags (class 8) differs in composition
# from a batch of the images with each other.
COMPANION_CLASS = 8


def corrupted_inputs(cell: Cell) -> dict[str, np.ndarray]:
    """The cell's validation images under each corruption, in the model's input space
    (standardised with the training slice's statistics for a standardised-input model)."""
    d = data()
    raw = d["x_valid"][: cell.cell.valid_size]
    shifted = [corrupt(name, raw) for name in CORRUPTIONS]
    if cell.cell.inputs == "standardized":
        shifted = list(standardized(d["x_train"][: cell.cell.train_size], *shifted)[1:])
    return dict(zip(CORRUPTIONS, shifted))


def companion_batches(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """The three arrangements of the first `COMPANION_IMAGES` images of `x`: in batches of
    each other, each first in a batch of `COMPANION_CLASS` images, and each alone (axes:
    batch, image in batch, ...). Image i's prediction is at [i // b, i % b], [i, 0], [i, 0]."""
    images = x[:COMPANION_IMAGES]
    pool = x[COMPANION_IMAGES:][y[COMPANION_IMAGES:] == COMPANION_CLASS]
    if len(pool) == 0:  # a slice with no image of the class: the images' own reverse
        pool = images[::-1]
    others = np.resize(pool, (COMPANION_BATCH - 1, *x.shape[1:]))
    together = images.reshape(-1, COMPANION_BATCH, *x.shape[1:])
    mixed = np.stack([np.concatenate([image[None], others]) for image in images])
    alone = images[:, None]
    return together, mixed, alone


def companion_change(model: Any, state: tuple[Any, Any], x: np.ndarray, y: np.ndarray) -> Any:
    """Each seed's largest change (in probability, 0 to 1) of any predicted probability of
    the same image between the arrangements of `companion_batches`, in inference mode and in
    training mode (axes: seed, mode)."""
    together, mixed, alone = companion_batches(x, y)

    def changes(tv: Any, ntv: Any, training: bool) -> Any:
        def predict(batches: Any) -> Any:
            return jax.lax.map(
                lambda b: model.stateless_call(tv, ntv, b, training=training)[0], batches
            )

        base = predict(together).reshape(-1, 10)
        return jnp.maximum(
            jnp.max(jnp.abs(base - predict(mixed)[:, 0])),
            jnp.max(jnp.abs(base - predict(alone)[:, 0])),
        )

    def both(tv: Any, ntv: Any) -> Any:
        return jnp.stack([changes(tv, ntv, False), changes(tv, ntv, True)])

    return np.asarray(jax.jit(jax.vmap(both, in_axes=(0, 0)))(state[0], state[1]))


def adapted_accuracy(model: Any) -> Any:
    """A program: each seed's accuracy on `x` with every BN's statistics those of `x`
    itself (AdaBN), from the seeds' states (compiled once for all the corruptions)."""

    def accuracy(tv: Any, ntv: Any, x: Any, y: Any) -> Any:
        probs, _ = model.stateless_call(tv, ntv, x, training=True)
        return jnp.mean((jnp.argmax(probs, axis=-1) == y.astype("int32")).astype("float32"))

    return jax.jit(jax.vmap(accuracy, in_axes=(0, 0, None, None)))


def end_checks(cell: Cell) -> list[dict[str, Any]]:
    """Each seed's end-of-training measurements, as `SeedResult` fields: `shifted_accuracy`
    (clean and each corruption), `adapted_accuracy` (BN only: the same with re-estimated
    statistics), `companion_change` and `companion_change_training`."""
    model, state = cell.stack.model, (cell.stack.state[0], cell.stack.state[1])
    inputs = {"clean": cell.xv, **corrupted_inputs(cell)}
    plain = {name: cell.scores(x, cell.yv)[1] for name, x in inputs.items()}
    adapted = {}
    if cell.cell.batch_norm:
        program = adapted_accuracy(model)
        adapted = {name: np.asarray(program(*state, x, cell.yv)) for name, x in inputs.items()}
    change = companion_change(model, state, cell.xv, cell.yv)
    return [
        {
            "shifted_accuracy": {name: finite_float(v[k]) for name, v in plain.items()},
            "adapted_accuracy": {name: finite_float(v[k]) for name, v in adapted.items()},
            "companion_change": finite_float(change[k][0]),
            "companion_change_training": finite_float(change[k][1]),
        }
        for k in range(len(cell.seeds))
    ]
