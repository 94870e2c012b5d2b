"""Fused training steps for the JAX backend: K optimizer steps in one compiled call.

Keras 3's JAX trainer honours `steps_per_execution` by calling its jitted single step K
times from Python, so every step still pays a dispatch of the whole training state. Here
the K steps are one `jax.lax.scan` over Keras' own `train_step(state, data)` (the
documented JAX extension point), so the loss, metrics, optimizer and BN/dropout state
updates are exactly Keras', and `model.fit` (callbacks, validation, stop_training) is
unchanged. A group that is short or holds a partial batch (the end of an epoch) runs
step by step through the same single-step function Keras would use.

Imported only inside JAX worker processes.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


class FusedTrainFunction:
    """A drop-in for the JAX trainer's `train_function(state, iterator) -> (logs, state)`."""

    def __init__(self, model: Any, steps: int) -> None:
        self.steps = steps
        self.fused_groups = 0  # groups that ran as one scan (the rest ran step by step)
        self.single = jax.jit(model.train_step, donate_argnums=0)

        def scanned(state: Any, batches: Any) -> tuple[Any, Any]:
            def body(carry: Any, batch: Any) -> tuple[Any, Any]:
                logs, carry = model.train_step(carry, batch)
                return carry, logs

            state, logs = jax.lax.scan(body, state, batches)
            # The metrics are running means, so the last step's logs are the group's.
            return jax.tree.map(lambda values: values[-1], logs), state

        self.scanned = jax.jit(scanned, donate_argnums=0)

    def __call__(self, state: Any, iterator: Any) -> tuple[Any, Any]:
        """Run the next group of up to `steps` batches from `iterator`."""
        # As in Keras: StopIteration from the first `next` ends the epoch.
        batches = [next(iterator)]
        try:
            while len(batches) < self.steps:
                batches.append(next(iterator))
        except StopIteration:
            pass
        if len(batches) == self.steps and _same_shapes(batches):
            stacked = jax.tree.map(_stack, *batches)
            self.fused_groups += 1
            return self.scanned(state, stacked)
        logs = None
        for batch in batches:
            logs, state = self.single(state, batch)
        return logs, state


def _stack(*parts: Any) -> Any:
    # On CPU Keras hands over NumPy batches; on an accelerator they are already on the
    # device, and stay there.
    if isinstance(parts[0], jax.Array):
        return jax.numpy.stack(parts)
    return np.stack(parts)


def _same_shapes(batches: list[Any]) -> bool:
    shapes = [tuple(np.shape(leaf) for leaf in jax.tree.leaves(b)) for b in batches]
    return all(shape == shapes[0] for shape in shapes)


def fuse_train_steps(model: Any, steps: int) -> None:
    """Make `model.fit` run `steps` optimizer steps per compiled call.

    Call after `compile(steps_per_execution=steps)`: Keras then hands the train function
    groups of `steps` batches and calls the callbacks' batch hooks once per group.
    """
    if steps > 1:
        model.train_function = FusedTrainFunction(model, steps)
