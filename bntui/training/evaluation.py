"""The kept model's evaluation steps: predictions joined on the host, and the test set's
loss, accuracy and probabilities in one pass.

Keras' `evaluate` and `predict` each run the model over the whole test set: two forward
passes, each compute-bound (about 30 ms over 10,000 images on one core of the AMD EPYC in
`bench/RESULTS.md`), at the end of the BN worker, the run's critical path. Keras' own
`test_step` already computes the predictions it scores; `test_step_with_predictions` returns
them too, so one `evaluate` gives the loss and accuracy Keras computes and the probabilities
(speed round 20). Validation runs the same program, so it is loaded and warm by the test.

Imported only inside JAX worker processes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np


def predict_joined_on_host(step: Any, steps: int) -> Any:
    """Keras' predict function (`_make_function(step, concatenate_outputs=True)`): up to
    `steps` batches a call, their outputs joined, but joined by NumPy.

    Keras joins them with `jnp.concatenate` under `jax.jit`: one more program traced,
    lowered and looked up in the compile cache in every run, after training (about 20 ms of
    the BN worker's end, the run's critical path: `bench/RESULTS.md`, speed round 19). A join
    is a copy; NumPy's has the same bytes, and Keras' `predict` joins the calls' outputs with
    NumPy in the end all the same."""

    def iterator_step(state: Any, iterator: Any) -> tuple[Any, Any]:
        outputs: list[Any] = []
        for data in one_call(iterator, steps):
            output, state = step(state, data)
            outputs.append(output)
        joined = jax.tree.map(
            lambda *parts: np.concatenate([np.asarray(p) for p in parts]), *outputs
        )
        return joined, state

    return iterator_step


def test_step_with_predictions(model: Any) -> Callable[[Any, Any], Any]:
    """Keras' own `model.test_step`, its predictions returned beside its logs:
    `((logs, y_pred), state)`.

    The predictions are the ones the step passes to `compute_metrics` (Keras' public hook,
    called with the model's outputs); they are caught there while the step is traced."""

    def step(state: Any, data: Any) -> tuple[tuple[Any, Any], Any]:
        caught: list[Any] = []
        compute_metrics = model.compute_metrics

        def catching(x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            caught.append(y_pred)
            return compute_metrics(x, y, y_pred, sample_weight)

        model.compute_metrics = catching
        try:
            logs, state = model.test_step(state, data)
        finally:
            del model.compute_metrics
        return (logs, caught[-1]), state

    return step


class TestFunction:
    """Keras' test function (`_make_function(model.test_step)`: up to `steps` batches a
    call, the last batch's logs returned) over `test_step_with_predictions`, jitted by the
    caller. Validation and `evaluate` run it; `evaluate_with_predictions` also keeps the
    predictions it made."""

    def __init__(self, model: Any, step: Any, steps: int) -> None:
        self.model = model
        self.step = step
        self.steps = steps
        self.kept: list[Any] | None = None  # a list while predictions are kept

    def __call__(self, state: Any, iterator: Any) -> tuple[Any, Any]:
        """Run the next `steps` batches of `iterator` from `state`: (logs, state)."""
        logs: Any = None
        for data in one_call(iterator, self.steps):
            (logs, predictions), state = self.step(state, data)
            if self.kept is not None:
                self.kept.append(predictions)
        return logs, state

    def evaluate_with_predictions(self, x: Any, y: Any, batch: int) -> tuple[Any, np.ndarray]:
        """`model.evaluate(x, y, batch_size=batch)` and the model's outputs for `x`, in
        order (Keras evaluates without shuffling)."""
        kept: list[Any] = []
        self.kept = kept
        try:
            evaluated = self.model.evaluate(x, y, batch_size=batch, verbose=0)
        finally:
            self.kept = None
        return evaluated, np.concatenate([np.asarray(p) for p in kept])


def one_call(iterator: Any, steps: int) -> Iterator[Any]:
    """The batches of one call of Keras' step loop: the next one, then up to `steps` - 1
    more while `iterator` has them. No batch left at all raises StopIteration, which ends
    Keras' loop (as its own `_make_function` does)."""
    first = next(iterator)
    return itertools.chain((first,), itertools.islice(iterator, steps - 1))
