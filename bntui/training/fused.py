"""Fused training steps for the JAX backend: K optimizer steps in one compiled call.

Keras 3's JAX trainer honours `steps_per_execution` by calling its jitted single step K
times from Python, so every step still pays a dispatch of the whole training state. Here
the K steps are one compiled loop (`jax.lax.fori_loop`, "the scan") over Keras' own
`train_step(state, data)` (the documented JAX extension point), so the loss, metrics,
optimizer and BN/dropout state updates are exactly Keras', and `model.fit` (callbacks,
validation, stop_training) is unchanged. The scan takes how many of its slots to run, so
the epoch's last, short group runs through the same program (its empty slots padded and
skipped); only a partial batch (the epoch's last 24 images) runs through the single-step
function Keras would use. On a GPU, whole groups run through a second scan program whose
step count is fixed when it is compiled (`loops_need_a_known_count`). The programs are kept
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

from bntui.training.feed import GroupedBatches, can_group, stack_batches
from bntui.training.programs import ProgramStore


class FusedTrainFunction:
    """A drop-in for the JAX trainer's `train_function(state, iterator) -> (logs, state)`."""

    def __init__(self, model: Any, steps: int, identity: str | None = None) -> None:
        self.steps = steps
        self.fused_groups = 0  # groups that ran as one scan (the rest ran step by step)
        self.known_count_groups = 0  # of which ran through the scan of a fixed step count
        self.host_groups = 0  # of which came as NumPy batches, copied to the device at once
        # Programs named `identity` (bntui.training.programs.program_identity) are kept in
        # the program store; without one, or without a store, they are plain jax.jit.
        self.store = store = ProgramStore.open(identity)

        def jit(function: Any, name: str) -> Any:
            if store is None:
                return jax.jit(function, donate_argnums=0)
            return store.jit(function, name, donate=0)

        def scanned(state: Any, batches: Any, count: Any) -> tuple[Any, Any]:
            return scan_steps(model, model.train_step, state, batches, count)

        def scanned_whole(state: Any, batches: Any) -> tuple[Any, Any]:
            return scan_steps(model, model.train_step, state, batches)

        self.single = jit(model.train_step, "step")
        self.scanned = jit(scanned, "scan")
        self.scanned_whole = (
            jit(scanned_whole, "scan-whole") if loops_need_a_known_count() else None
        )

    def __call__(self, state: Any, iterator: Any) -> tuple[Any, Any]:
        """Run the next group of up to `steps` batches from `iterator`: at once when the
        group feed has them stacked (`bntui.training.feed.GroupedBatches.next_group`)."""
        feeds_our_groups = isinstance(iterator, GroupedBatches) and iterator.group == self.steps
        stacked = iterator.next_group() if feeds_our_groups else None
        if stacked is not None:
            return self.scan(state, self.to_device(stacked), self.steps)
        return self.run(state, self.take(iterator))

    def run(self, state: Any, batches: list[Any]) -> tuple[Any, Any]:
        """Run one group: its whole batches as one scan, a partial last one step by step."""
        whole = scanned_count(batches, self.steps)
        if whole == 0:
            return self.step_by_step(state, batches)
        logs, state = self.scan(state, self.stack(batches[:whole]), whole)
        if whole < len(batches):
            logs, state = self.step_by_step(state, batches[whole:])
        return logs, state

    def scan(self, state: Any, stacked: Any, whole: int) -> tuple[Any, Any]:
        """Run the first `whole` steps of a stacked group as one compiled call."""
        if whole == self.steps and self.scanned_whole is not None:
            logs, state = self.scanned_whole(state, stacked)
            self.known_count_groups += 1
            return logs, state
        return self.scanned(state, stacked, np.int32(whole))

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

    def stack(self, batches: list[Any]) -> Any:
        """Up to `steps` batches as one array per input (leading axis: step), on the device.

        The epoch's last group fills the scan's first slots and pads the rest with zeros,
        which the scan skips: every group runs the one scan program (a group with 18 whole
        batches once ran them one by one, through a program of their own to load)."""
        padding = [jax.tree.map(_zeros_like, batches[0])] * (self.steps - len(batches))
        return self.to_device(jax.tree.map(_stack, *batches, *padding))

    def to_device(self, stacked: Any) -> Any:
        """A stacked group on the device: one copy to a GPU, none on the CPU."""
        if self.on_host(stacked):
            stacked = jax.device_put(stacked)
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


def loops_need_a_known_count() -> bool:
    """True where whole groups should run through a scan of a fixed step count: on a GPU.

    There XLA runs a loop whose step count is only known at run time by copying the loop's
    condition back to the host after every step and waiting for it, so the steps cannot be
    queued ahead; with the count fixed at compile time they are (bench/RESULTS.md, GPU).
    The CPU runs its loops on the host either way: one program for every group there, and
    one program fewer to load at start-up."""
    return jax.default_backend() != "cpu"


def scanned_count(batches: list[Any], steps: int) -> int:
    """How many of a group's first batches run as one scan: all of a whole group (`steps`
    same-shaped batches); of a short group (the epoch's end), its leading batches of the
    first one's shape when there are at least two (the partial batch after them runs step by
    step). 0: the group runs step by step (one batch alone is one step, not a scan program
    of its own shape)."""
    shapes = [_shapes(batch) for batch in batches]
    whole = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), len(shapes))
    if len(shapes) == steps:
        return whole if whole == steps else 0
    return whole if whole >= 2 else 0


def scan_steps(
    model: Any, step: Any, state: Any, batches: Any, count: Any = None
) -> tuple[Any, Any]:
    """Run `step(state, batch) -> (logs, state)` over the first `count` of `batches`
    (leading axis: step; all of them when `count` is None) as one loop; return the last
    step's logs (the metrics are running means, so they are the group's) and the state.

    `count` may be traced: one program then runs every group of an epoch, the short last
    one too. The loop computes what `jax.lax.scan` over the same steps computes, bit for bit
    (tests/training/test_fused.py), and no slower (bench/RESULTS.md, speed round 10).

    The gradient norm (`bntui.training.models.gradient_norm_reporting`) is read only after a
    group, so only the last step computes it: the others skip a reduction over every
    gradient, about a fifth of a step on one core. Nothing else changes (the norm changes
    no update)."""
    optimizer = model.optimizer

    def batch(index: Any) -> Any:
        return jax.tree.map(
            lambda values: jax.lax.dynamic_index_in_dim(values, index, 0, False), batches
        )

    def body(index: Any, carry: Any) -> Any:
        return step(carry, batch(index))[1]

    if count is None:
        count = jax.tree.leaves(batches)[0].shape[0]
    reporting = getattr(optimizer, "report_norm", None)
    if reporting is not None:
        optimizer.report_norm = False  # while the loop's body is traced
    try:
        state = jax.lax.fori_loop(0, count - 1, body, state)
    finally:
        if reporting is not None:
            optimizer.report_norm = reporting
    return step(state, batch(count - 1))


def _stack(*parts: Any) -> Any:
    # Device arrays (Keras' own transfer, or a caller's) are stacked on the device.
    if isinstance(parts[0], jax.Array):
        return jax.numpy.stack(parts)
    return stack_batches(*(np.asarray(part) for part in parts))


def _shapes(batch: Any) -> tuple[tuple[int, ...], ...]:
    return tuple(np.shape(leaf) for leaf in jax.tree.leaves(batch))


def _zeros_like(leaf: Any) -> Any:
    if isinstance(leaf, jax.Array):
        return jax.numpy.zeros_like(leaf)
    return np.zeros_like(np.asarray(leaf))


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
            return GroupedBatches(self.data_adapter, group)
        if on_accelerator:
            return self.data_adapter.get_jax_iterator()
        return keras_way(self)

    iterator_class._get_iterator = batches
    iterator_class._bntui_group_feed = True
    return True
