"""The plain MLP and its BatchNormalization twin, as the seed notebooks define them.

Imported only inside worker processes: it imports Keras.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from bntui.core.spec import ExperimentSpec


def _fashion_layers(batch_norm: bool) -> list[Any]:
    """EXPERIMENTS.md §1: LeakyReLU/he_normal plain; BN before each Dense in the twin."""
    if not batch_norm:
        return [
            layers.Flatten(),
            layers.Dense(300, kernel_initializer="he_normal"),
            layers.LeakyReLU(),
            layers.Dense(100, kernel_initializer="he_normal"),
            layers.LeakyReLU(),
            layers.Dense(10, activation="softmax"),
        ]
    return [
        layers.Flatten(),
        layers.BatchNormalization(),
        layers.Dense(300, activation="relu"),
        layers.BatchNormalization(),
        layers.Dense(100, activation="relu"),
        layers.BatchNormalization(),
        layers.Dense(10, activation="softmax"),
    ]


def _mnist_layers(batch_norm: bool) -> list[Any]:
    """EXPERIMENTS.md §2: relu MLP; the twin puts BN after each hidden activation."""
    stack: list[Any] = [layers.Flatten(), layers.Dense(300, activation="relu")]
    if batch_norm:
        stack.append(layers.BatchNormalization())
    stack.append(layers.Dense(100, activation="relu"))
    if batch_norm:
        stack.append(layers.BatchNormalization())
    stack.append(layers.Dense(10, activation="softmax"))
    return stack


def _sweep_layers(batch_norm: bool) -> list[Any]:
    """EXPERIMENTS.md §3 (seed 004): Dense 512 and Dropout; the twin applies the BN layer
    the notebook declared (between Dropout and the output) but never called."""
    stack: list[Any] = [layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dropout(0.2)]
    if batch_norm:
        stack.append(layers.BatchNormalization())
    stack.append(layers.Dense(10, activation="softmax"))
    return stack


ARCHITECTURES = {"fashion": _fashion_layers, "mnist": _mnist_layers, "sweep": _sweep_layers}


def gradient_norm_reporting(base: type[Any]) -> type[Any]:
    """Optimizer class `base` that also keeps the global L2 norm of the last step's gradient
    in a variable (`gradient_norm`), which the worker reads at each curve point.

    The norm is taken inside `apply`, from the gradients Keras computed for the step, so it
    costs one reduction per step and changes no update (tests check the weights are equal).
    As an optimizer variable it travels with the JAX trainer's state, fused steps included.
    """

    class Reporting(base):
        # Read while tracing: a fused scan turns it off for the steps of a group whose norm
        # nobody reads (all but the last; `bntui.training.fused.scan_steps`).
        report_norm = True

        def build(self, variables: Any) -> None:
            super().build(variables)
            self.gradient_norm = self.add_variable(
                shape=(), initializer="zeros", name="gradient_norm"
            )

        def apply(self, grads: Any, trainable_variables: Any = None) -> Any:
            if not self.report_norm:
                return super().apply(grads, trainable_variables)
            squares = [keras.ops.sum(keras.ops.square(g)) for g in grads if g is not None]
            norm = keras.ops.sqrt(sum(squares))
            result = super().apply(grads, trainable_variables)  # builds on first use (TF)
            self.gradient_norm.assign(norm)
            return result

    Reporting.__name__ = Reporting.__qualname__ = base.__name__
    return Reporting


def build_model(spec: ExperimentSpec, key: str) -> keras.Model:
    """Build and compile model `key` (`plain` or `bn`) for `spec`; on JAX, with its
    compiled metrics and optimizer built too, and without Keras' eager programs."""
    on_jax = keras.backend.backend() == "jax"
    if on_jax:
        from bntui.training.eager import convert_numbers_on_the_host  # JAX, likewise

        convert_numbers_on_the_host()  # before the optimizer makes its variables
    make = ARCHITECTURES[spec.architecture]
    name = "plain_mlp" if key == "plain" else "bn_mlp"
    model = keras.Sequential([keras.Input((28, 28)), *make(key == "bn")], name=name)
    base = keras.optimizers.SGD if spec.optimizer == "sgd" else keras.optimizers.Adam
    optimizer = gradient_norm_reporting(base)(learning_rate=spec.learning_rate)
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=optimizer,
        metrics=["accuracy"],
        steps_per_execution=spec.effective_steps_per_execution(),
        jit_compile="auto",
    )
    build_without_tracing(model, now=on_jax)
    if on_jax:
        from bntui.training.eager import keep_step_results

        keep_step_results(model)
    return model


def build_without_tracing(model: keras.Model, now: bool = False) -> None:
    """Make `model`'s first `fit` build its compiled loss and metrics from the shapes of
    its labels and output, without tracing the model; with `now`, build them (and the
    optimizer) at once.

    Keras builds them by tracing the model, its loss and its metrics on a first batch
    (`Trainer._symbolic_build`, 0.04-0.07 s in a worker alone), on each worker's way to its
    first step, the run's critical path, to learn what the shapes already say. What is
    built is the same (both read only the tensors' structure and shapes), and the first
    batch is still taken as Keras takes it, so the shuffle it draws, and every number
    trained, stay Keras' own. Built `now`, their variables are made while the model's are,
    so a worker takes their values from the kept initial values
    (`bntui.training.initial`) instead of running Keras' initializers (a program each);
    the first batch is then taken by the first build Keras asks for, as it would have been.
    """
    keras_build = model._symbolic_build
    first_batch_due = [False]

    def symbolic_build(iterator: Any = None, data_batch: Any = None) -> Any:
        if not all(layer.built for layer in model._flatten_layers()):
            return keras_build(iterator=iterator, data_batch=data_batch)
        compiled = [c for c in (model._compile_metrics, model._compile_loss) if c is not None]
        due, first_batch_due[0] = first_batch_due[0], False
        unbuilt = not all(c.built for c in compiled)
        if iterator is not None and data_batch is None and (unbuilt or due):
            for _, _, batches in iterator:  # as Keras takes its first batch
                if not isinstance(batches, (list, tuple)):
                    next(batches)
                break
        labels = keras.KerasTensor((None,), "uint8")
        outputs = keras.KerasTensor(model.outputs[0].shape, model.outputs[0].dtype)
        for part in compiled:
            if not part.built:
                part.build(labels, outputs)
        return keras_build()  # all built: the optimizer's variables

    model._symbolic_build = symbolic_build
    if now:
        symbolic_build()
        first_batch_due[0] = True


def summarize(model: keras.Model) -> dict[str, Any]:
    """`model.summary()` as data: each layer's output shape and (trainable) params."""
    rows = []
    for layer in model.layers:
        trainable = sum(int(w.numpy().size) for w in layer.trainable_weights)
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": str(tuple(layer.output.shape)).replace("None", "None"),
                "params": int(layer.count_params()),
                "trainable_params": trainable,
            }
        )
    total = int(model.count_params())
    trainable_total = sum(r["trainable_params"] for r in rows)
    return {
        "layers": rows,
        "total_params": total,
        "trainable_params": trainable_total,
        "non_trainable_params": total - trainable_total,
    }
