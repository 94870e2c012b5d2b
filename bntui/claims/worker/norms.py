"""The normalisation layers a cell can put where the BN model has BN (`CellSpec.norm`,
`CellSpec.ghost_batch`), and the per-step loss scan of claim small-batches.

Keras 3's BatchNormalization has no `virtual_batch_size` (Keras 2 had), so ghost batches
are a small subclass here. Runs inside a worker process (imports Keras and JAX).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from keras import layers, ops

from bntui.claims.cells import CellSpec
from bntui.training.stack import SeedStack

# Batch renormalisation's clipping: the final values of Ioffe 2017's schedule (r in
# [1/3, 3], d in [−5, 5]), from the start (the schedule ramps them up over many more steps
# than a quick cell has).
RENORM_CLIPPING = {"rmax": 3.0, "rmin": 1 / 3, "dmax": 5.0}
# Group norm's groups: divides every width it normalises (784 pixels, 300 and 100 units).
GROUPS = 4


class GhostBatchNormalization(layers.BatchNormalization):
    """BN whose training statistics come from sub-batches of `ghost` examples (Hoffer et
    al. 2017's ghost batches): each sub-batch is normalised by its own mean and variance;
    the moving averages take the sub-batches' mean statistics. Inference is plain BN's."""

    def __init__(self, ghost: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ghost = ghost

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        """Normalise `inputs` (examples × features) sub-batch by sub-batch in training."""
        size = inputs.shape[0]
        if not (training and self.trainable) or size is None or size % self.ghost:
            return super().call(inputs, training=training, mask=mask)
        groups = ops.reshape(inputs, (size // self.ghost, self.ghost, inputs.shape[-1]))
        mean = ops.mean(groups, axis=1, keepdims=True)
        variance = ops.var(groups, axis=1, keepdims=True)
        normalised = (groups - mean) * ops.rsqrt(variance + self.epsilon)
        out = ops.reshape(normalised, ops.shape(inputs)) * self.gamma + self.beta
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(
                moving * self.momentum + ops.mean(batch, axis=(0, 1)) * (1 - self.momentum)
            )
        return out


def norm_layer(cell: CellSpec) -> Any:
    """The layer that normalises where the BN model has BN, as `cell` asks."""
    if cell.ghost_batch:
        return GhostBatchNormalization(cell.ghost_batch)
    if cell.norm == "renorm":
        return layers.BatchNormalization(renorm=True, renorm_clipping=RENORM_CLIPPING)
    if cell.norm == "layer":
        return layers.LayerNormalization()
    if cell.norm == "group":
        return layers.GroupNormalization(groups=GROUPS)
    return layers.BatchNormalization()


class StepLosses:
    """Training that keeps each step's loss: Keras' `train_step` under vmap in a scan, its
    loss tracker reset before every step (so its log is that step's batch loss, not a
    running mean). Trains `stack`'s state in place."""

    def __init__(self, stack: SeedStack) -> None:
        self.stack = stack
        step = jax.vmap(stack.model.train_step)
        fresh = stack.fresh_metrics

        def scanned(state: Any, batches: Any) -> tuple[Any, Any]:
            def body(carry: Any, batch: Any) -> tuple[Any, Any]:
                logs, carry = step((*carry[:3], fresh), batch)
                return carry, logs["loss"]

            state, losses = jax.lax.scan(body, state, batches)
            return losses, state

        self._scanned = jax.jit(scanned, donate_argnums=0)

    def train(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Run the steps (axes: step, seed, batch, ...); each step's loss (step × seed)."""
        losses, self.stack.state = self._scanned(self.stack.state, (jnp.asarray(x), y))
        return np.asarray(losses)
