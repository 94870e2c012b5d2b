"""What every seed of one model shares inside a worker: the spec, the data, the event
stream, the device facts; and the events built from a trained Keras model (ready, test).

Imported only inside worker processes (it imports Keras when asked for an event).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bntui.core.datasets import CLASS_NAMES
from bntui.core.events import Event, ModelReady, TestResult
from bntui.core.spec import MISTAKES_KEPT, POOL_SIZE, ExperimentSpec
from bntui.training.common import finite_float
from bntui.training.device import backend_report

# The batch of the test set's predictions; validation's and the test's too, unless faithful.
PREDICT_BATCH = 1000


class EventStream(Protocol):
    """Where a worker's events go (`bntui.training.worker.EventWriter`: the pipe to bntui)."""

    def now(self) -> float:
        """Seconds since the run started."""
        ...

    def emit(self, event: Event) -> None:
        """Send one event."""
        ...


@dataclass
class Setting:
    """What every seed of one model shares: spec, data, the stream, the device facts."""

    spec: ExperimentSpec
    key: str
    writer: EventStream
    data: Any
    backend_log: Any
    job: dict[str, Any]

    @property
    def samples(self) -> list[int]:
        """Indices of the test images shown with predictions."""
        return list(range(min(self.spec.sample_count, len(self.data.y_test))))

    def ready(self, model: Any, seed_index: int) -> ModelReady:
        """The ModelReady event of seed `seed_index`, built `model` in hand."""
        import keras  # after the worker set KERAS_BACKEND and watched the backend's log

        from bntui.training.models import summarize

        spec, data, samples = self.spec, self.data, self.samples
        devices, runs_on, placement = backend_report(
            spec.backend, model, self.backend_log, self.job
        )
        return ModelReady(
            model=self.key,
            t=self.writer.now(),
            seed=seed_index,
            summary=summarize(model),
            environment={
                "python": sys.version.split()[0],
                "keras": keras.__version__,
                "backend": keras.backend.backend(),
                "backend_version": _backend_version(spec.backend),
                "numpy": np.__version__,
                **placement,
            },
            devices=devices,
            runs_on=runs_on,
            dataset={
                "name": spec.dataset,
                "class_names": CLASS_NAMES[spec.dataset],
                "train_size": len(data.y_train),
                "validation_size": len(data.y_valid),
                "test_size": len(data.y_test),
                "sample_indices": samples,
                "sample_labels": [int(data.y_test[i]) for i in samples],
                "sample_images": [data.test_images_uint8[i].tolist() for i in samples],
            },
        )

    def probe(self, model: Any, identity: str | None = None) -> Any:
        """A layer probe of `model` on the fixed probe batch, or None when --inside 0; its
        gradient program kept in the program store under `identity` when there is one."""
        if not self.spec.inside_per_epoch:
            return None
        from bntui.training.probe import PROBE_SIZE, LayerProbe  # Keras, likewise

        x, y = self.data.x_valid[:PROBE_SIZE], self.data.y_valid[:PROBE_SIZE]
        return LayerProbe(model, x, y, self.spec.backend, identity)

    @property
    def eval_batch(self) -> int:
        """Batch size for validation, test and prediction (the seeds' 32 when faithful)."""
        return 32 if self.spec.faithful else PREDICT_BATCH

    def test_result(self, model: Any, seed_index: int) -> TestResult:
        """Evaluate `model` (its variables hold seed `seed_index`) on the test set."""
        data, samples = self.data, self.samples
        (loss, accuracy), probs = self._evaluated(model)
        predicted = probs.argmax(axis=1)
        classes = len(CLASS_NAMES[self.spec.dataset])
        confusion = np.bincount(
            data.y_test.astype(int) * classes + predicted, minlength=classes * classes
        ).reshape(classes, classes)
        return TestResult(
            model=self.key,
            t=self.writer.now(),
            seed=seed_index,
            loss=finite_float(loss),
            accuracy=finite_float(accuracy),
            confusion_matrix=confusion.tolist(),
            predictions=[self._prediction(probs, predicted, i) for i in samples],
            **self._pool(probs, predicted),
        )

    def _evaluated(self, model: Any) -> tuple[Any, Any]:
        """Keras' `evaluate` on the test set and the model's probabilities for it: in one
        pass where its test function has one (`bntui.training.evaluation.TestFunction`),
        else `predict` after."""
        x, y = self.data.x_test, self.data.y_test
        test_function = getattr(model, "test_function", None)
        one_pass = getattr(test_function, "evaluate_with_predictions", None)
        if one_pass is not None and self.eval_batch == PREDICT_BATCH:
            return one_pass(x, y, self.eval_batch)
        evaluated = model.evaluate(x, y, batch_size=self.eval_batch, verbose=0)
        return evaluated, model.predict(x, batch_size=PREDICT_BATCH, verbose=0)

    def _prediction(self, probs: Any, predicted: Any, i: int) -> dict[str, Any]:
        return {
            "index": i,
            "label": int(self.data.y_test[i]),
            "predicted": int(predicted[i]),
            "probabilities": [round(float(p), 5) for p in probs[i]],
        }

    def _pool(self, probs: Any, predicted: Any) -> dict[str, Any]:
        """The predicted class and its probability for each of the test set's first
        POOL_SIZE images, and this model's first MISTAKES_KEPT mistakes among them with
        their images: the Results tab shows the images one model gets wrong and the other
        right by the same rule in every run (`bntui.tui.widgets.results`)."""
        pool = min(POOL_SIZE, len(self.data.y_test))
        wrong = np.flatnonzero(predicted[:pool] != self.data.y_test[:pool])[:MISTAKES_KEPT]
        return {
            "pool_predicted": predicted[:pool].astype(int).tolist(),
            "pool_confidence": [round(float(p), 4) for p in probs[:pool].max(axis=1)],
            "mistakes": [
                self._prediction(probs, predicted, int(i))
                | {"image": self.data.test_images_uint8[int(i)].tolist()}
                for i in wrong
            ],
        }


def _backend_version(backend: str) -> str:
    if backend == "jax":
        import jax

        return str(jax.__version__)
    import tensorflow as tf

    return str(tf.__version__)
