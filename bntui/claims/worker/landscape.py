"""The loss landscape along the gradient (claim smoothness), after Santurkar et al. 2018, §3.1:
at a point w of training, with g = ∇L(w) on the fixed probe batch, for each step size η of
`LANDSCAPE_RATES`, the loss L(w − η g) and the gradient change ‖∇L(w − η g) − ∇L(w)‖ over
every trainable variable. BN's loss is taken in training mode, with the probe batch's own
statistics, as a training step sees it (its moving averages are not touched).

Beside it, Santurkar et al.'s gradient-based internal covariate shift (§2.2): for each Dense
kernel, how much its gradient changes, ‖G′ − G‖ / ‖G‖, when every variable before it has
taken its SGD step (at the cell's rate) and it has not.

One jitted program, vmapped over the cell's seeds; runs inside a worker process (JAX).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np

from bntui.claims.cells import LANDSCAPE_RATES, CellSpec
from bntui.training.common import finite_float


def landscape_epochs(cell: CellSpec) -> set[int]:
    """The epochs (1-based) at whose end the landscape is measured: `landscape_points` − 1
    of them, evenly spaced and ending with the last (the first point is the start)."""
    later = cell.landscape_points - 1
    if later <= 0:
        return set()
    return {max(1, round(cell.epochs * k / later)) for k in range(1, later + 1)}


class Landscape:
    """The landscape program of one stacked model, on a fixed batch."""

    def __init__(
        self, model: Any, x: np.ndarray, y: np.ndarray, kernels: list[int], rate: float
    ) -> None:
        self.x, self.y = x, y
        rates = jnp.asarray(LANDSCAPE_RATES, dtype="float32")

        def loss_of(tv: Any, ntv: Any) -> Any:
            probs, _ = model.stateless_call(tv, ntv, self.x, training=True)
            return jnp.mean(keras.losses.sparse_categorical_crossentropy(self.y, probs))

        def norm(tree: Any) -> Any:
            return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(tree)))

        def measure(tv: Any, ntv: Any) -> Any:
            loss, grads = jax.value_and_grad(loss_of)(tv, ntv)

            def along(rate: Any) -> Any:
                moved = jax.tree.map(lambda w, g: w - rate * g, tv, grads)
                moved_loss, moved_grads = jax.value_and_grad(loss_of)(moved, ntv)
                return moved_loss, norm(jax.tree.map(jnp.subtract, moved_grads, grads))

            losses, changes = jax.lax.map(along, rates)
            return loss, norm(grads), losses, changes, shift(tv, ntv, grads)

        def shift(tv: Any, ntv: Any, grads: Any) -> Any:
            """Each Dense kernel's relative gradient change once the variables before it
            (all of them, BN's γ and β too) have taken their step."""
            changes = []
            for kernel in kernels:
                moved = [
                    w - rate * g if j < kernel else w for j, (w, g) in enumerate(zip(tv, grads))
                ]
                after = jax.grad(loss_of)(moved, ntv)[kernel]
                changes.append(norm(after - grads[kernel]) / (norm(grads[kernel]) + 1e-12))
            return jnp.stack(changes)

        self._measure = jax.jit(jax.vmap(measure))

    def measure(self, state: Any, step: int) -> list[dict[str, Any]]:
        """Each seed's landscape point at `step` (the claims file's `LandscapePoint`)."""
        loss, grad_norm, losses, changes, shifts = (
            np.asarray(a) for a in self._measure(state[0], state[1])
        )
        return [
            {
                "step": step,
                "rates": list(LANDSCAPE_RATES),
                "loss": finite_float(loss[k]),
                "grad_norm": finite_float(grad_norm[k]),
                "losses": [finite_float(v) for v in losses[k]],
                "grad_changes": [finite_float(v) for v in changes[k]],
                "gradient_shift": [finite_float(v) for v in shifts[k]],
            }
            for k in range(len(loss))
        ]
