"""Fused training steps for the JAX backend: K optimizer steps in one compiled call.

Keras 3's JAX trainer honours `steps_per_execution` by calling its jitted single step K
times from Python, so every step still pays a dispatch of the whole training state. Here
the K steps are one `jax.lax.scan` over Keras' own `train_step(state, data)` (the
documented JAX extension point), so the loss, metrics, optimizer and BN/dropout state
updates are exactly Keras', and `model.fit` (callbacks, validation, stop_training) is
unchanged. A group that is short or holds a partial batch (the end of an epoch) runs
step by step through the same single-step function Keras would use. Both programs are kept
in the program store when a worker has one (`bntui.training.programs`).

The batches come from Keras' own shuffled order, gathered a group at a time on the host
(`bntui.training.feed`), so a group's stack is a view and the CPU device takes it without a
copy. On a GPU, Keras would copy every batch to the device on its own: a transfer per step,
on top of each step's dispatch, for a batch-32 MLP whose steps are tiny. There the group goes
to the device in one copy. Batches that already are device arrays are stacked where they are.

Imported only inside JAX worker processes.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from bntui.training.feed import can_group, grouped_batches, stack_batches
from bntui.training.programs import ProgramStore


class FusedTrainFunction:
    """A drop-in for the JAX trainer's `train_function(state, iterator) -> (logs, state)`."""

    def __init__(self, model: Any, steps: int, identity: str | None = None) -> None:
        self.steps = steps
        self.fused_groups = 0  # groups that ran as one scan (the rest ran step by step)
        self.host_groups = 0  # of which came as NumPy batches, copied to the device at once
        # Programs named `identity` (bntui.training.programs.program_identity) are kept in
        # the program store; without one, or without a store, they are plain jax.jit.
        self.store = store = ProgramStore.open(identity)

        def jit(function: Any, name: str) -> Any:
            if store is None:
                return jax.jit(function, donate_argnums=0)
            return store.jit(function, name, donate=0)

        def scanned(state: Any, batches: Any) -> tuple[Any, Any]:
            return scan_steps(model, model.train_step, state, batches)

        self.single = jit(model.train_step, "step")
        self.scanned = jit(scanned, "scan")

    def __call__(self, state: Any, iterator: Any) -> tuple[Any, Any]:
        """Run the next group of up to `steps` batches from `iterator`."""
        batches = self.take(iterator)
        if self.fusable(batches):
            return self.scanned(state, self.stack(batches))
        return self.step_by_step(state, batches)

    def take(self, iterator: Any) -> list[Any]:
        """The next group: up to `steps` batches (fewer at the epoch's end)."""
        # As in Keras: StopIteration from the first `next` ends the epoch.
        batches = [next(iterator)]
        try:
            while len(batches) < self.steps:
                batches.append(next(iterator))
        except StopIteration:
            pass
        return batches

    def fusable(self, batches: list[Any]) -> bool:
        """True for a whole group of same-shaped batches: it runs as one scan."""
        return len(batches) == self.steps and _same_shapes(batches)

    def stack(self, batches: list[Any]) -> Any:
        """The group as one array per input (leading axis: step), on the device."""
        stacked = jax.tree.map(_stack, *batches)
        if self.on_host(stacked):
            stacked = jax.device_put(stacked)  # one copy to a GPU; none on the CPU
            self.host_groups += 1
        self.fused_groups += 1
        return stacked

    def step_by_step(self, state: Any, batches: list[Any]) -> tuple[Any, Any]:
        """Run a short or uneven group through the single-step function, as Keras would."""
        logs = None
        for batch in batches:
            logs, state = self.single(state, batch)
        return logs, state

    @staticmethod
    def on_host(stacked: Any) -> bool:
        """True when the stacked group is NumPy data (not yet on the device)."""
        return any(isinstance(leaf, np.ndarray) for leaf in jax.tree.leaves(stacked))


def scan_steps(model: Any, step: Any, state: Any, batches: Any) -> tuple[Any, Any]:
    """Run `step(state, batch) -> (logs, state)` over `batches` (leading axis: step) as one
    `jax.lax.scan`; return the last step's logs (the metrics are running means, so they are
    the group's) and the state.

    The gradient norm (`bntui.training.models.gradient_norm_reporting`) is read only after a
    group, so only the last step computes it: the others skip a reduction over every
    gradient, about a fifth of a step on one core. Nothing else changes (the norm changes
    no update)."""
    optimizer = model.optimizer
    head = jax.tree.map(lambda values: values[:-1], batches)
    last = jax.tree.map(lambda values: values[-1], batches)

    def body(carry: Any, batch: Any) -> tuple[Any, None]:
        return step(carry, batch)[1], None

    reporting = getattr(optimizer, "report_norm", None)
    if reporting is not None:
        optimizer.report_norm = False  # while the scan's body is traced
    try:
        state, _ = jax.lax.scan(body, state, head)
    finally:
        if reporting is not None:
            optimizer.report_norm = reporting
    return step(state, last)


def _stack(*parts: Any) -> Any:
    # Device arrays (Keras' own transfer, or a caller's) are stacked on the device.
    if isinstance(parts[0], jax.Array):
        return jax.numpy.stack(parts)
    return stack_batches(*(np.asarray(part) for part in parts))


def _same_shapes(batches: list[Any]) -> bool:
    shapes = [tuple(np.shape(leaf) for leaf in jax.tree.leaves(b)) for b in batches]
    return all(shape == shapes[0] for shape in shapes)


def fuse_train_steps(model: Any, steps: int, identity: str | None = None) -> None:
    """Make `model.fit` run `steps` optimizer steps per compiled call.

    Call after `compile(steps_per_execution=steps)`: Keras then hands the train function
    groups of `steps` batches and calls the callbacks' batch hooks once per group. With an
    `identity` (`bntui.training.programs.program_identity`), its programs and the model's
    evaluation steps are kept in the program store.
    """
    if steps > 1:
        train = FusedTrainFunction(model, steps, identity)
        model.train_function = train
        if train.store is not None:
            train.store.keep_evaluation_steps(model)
        feed_groups()


def feed_groups() -> bool:
    """Make Keras' JAX epoch iterator yield NumPy batches gathered a group at a time.

    Training on shuffled NumPy arrays with `steps_per_execution` > 1 gets Keras' batches in
    Keras' order, gathered per group (`bntui.training.feed`). Other data keeps Keras' own
    batches: on the CPU as Keras makes them; on an accelerator as NumPy, not copied to the
    device one step ahead (the fused steps copy a whole group at once; a step-by-step group,
    validation and prediction go to the device when the jitted function is called, as on
    the CPU). With a distribution set, Keras' own (sharded) path is kept. Returns False
    (nothing changed) if this Keras lacks the iterator it expects.
    """
    try:
        from keras.src.backend.jax import trainer as jax_trainer
        from keras.src.distribution import distribution_lib
    except ImportError:
        return False
    iterator_class: Any = getattr(jax_trainer, "JAXEpochIterator", None)
    if iterator_class is None or not hasattr(iterator_class, "_get_iterator"):
        return False
    if getattr(iterator_class, "_bntui_group_feed", False):
        return True
    keras_way = iterator_class._get_iterator
    on_accelerator = jax.default_backend() != "cpu"

    def batches(self: Any) -> Any:
        if distribution_lib.distribution() is not None:
            return keras_way(self)
        group = getattr(self, "steps_per_execution", 1) or 1
        if group > 1 and can_group(self.data_adapter):
            return grouped_batches(self.data_adapter, group)
        if on_accelerator:
            return self.data_adapter.get_jax_iterator()
        return keras_way(self)

    iterator_class._get_iterator = batches
    iterator_class._bntui_group_feed = True
    return True
