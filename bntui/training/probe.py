"""Inside the networks: layer statistics measured on a fixed probe batch while a model trains.

Imported only in worker processes (it imports Keras). The forward pass is replayed in NumPy
from the layers' current weights, with BatchNormalization in training mode (batch
statistics), as the optimizer sees it, and Dropout as the identity (its expected value).
Gradient norms come from the backend itself (JAX or TensorFlow), through Keras'
`stateless_call`, so measuring never changes the model's weights or moving statistics.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

PROBE_SIZE = 512


ACTIVATION_LAYERS = (keras.layers.LeakyReLU, keras.layers.ReLU)


def _activation_name(layer: Any) -> str:
    """'relu', 'leaky_relu', 'softmax', 'linear', ... for a Dense or activation layer."""
    if isinstance(layer, keras.layers.LeakyReLU):
        return "leaky_relu"
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    # Not get_config(): serializing a layer imports TensorFlow, even on JAX (2+ s).
    return str(getattr(getattr(layer, "activation", None), "__name__", "linear"))


def _activate(name: str, z: np.ndarray, slope: float) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, z * slope)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "linear":
        return z
    raise ValueError(f"probe cannot replay activation {name!r}")


def _mean_std(a: np.ndarray) -> tuple[float, float]:
    return float(a.mean()), float(a.std())


class LayerProbe:
    """Measures every Dense and BatchNormalization layer of a Sequential model."""

    def __init__(
        self,
        model: Any,
        x: np.ndarray,
        y: np.ndarray,
        backend: str,
        identity: str | None = None,
    ) -> None:
        """`identity` (`bntui.training.programs.program_identity`) keeps the JAX gradient
        program in the program store, as the training steps are."""
        self.model = model
        self.identity = identity
        self.x = np.asarray(x, dtype="float32").reshape(len(x), -1)
        self.y = np.asarray(y)
        self.backend = backend
        self.dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        kernel_ids = {id(layer.kernel) for layer in self.dense}
        self.kernel_slots = [
            i for i, v in enumerate(model.trainable_variables) if id(v) in kernel_ids
        ]
        self.gradient_program = self._make_grad_norms()  # the store's, when kept there

    def _make_grad_norms(self) -> Any:
        model, slots = self.model, self.kernel_slots
        if self.backend == "jax":
            import jax
            import jax.numpy as jnp

            def loss_of(trainable: Any, non_trainable: Any, x: Any, y: Any) -> Any:
                y_pred, _ = model.stateless_call(trainable, non_trainable, x, training=True)
                return jnp.mean(keras.losses.sparse_categorical_crossentropy(y, y_pred))

            grad = jax.grad(loss_of)

            def norms(trainable: Any, non_trainable: Any, x: Any, y: Any) -> Any:
                g = grad(trainable, non_trainable, x, y)
                return jnp.stack([jnp.linalg.norm(g[i]) for i in slots])

            from bntui.training.programs import ProgramStore

            store = ProgramStore.open(self.identity)
            return jax.jit(norms) if store is None else store.jit(norms, "probe", donate=None)
        import tensorflow as tf

        def tf_norms(trainable: Any, non_trainable: Any, x: Any, y: Any) -> Any:
            trainable = [tf.convert_to_tensor(v) for v in trainable]
            with tf.GradientTape() as tape:
                tape.watch(trainable)
                y_pred, _ = model.stateless_call(trainable, non_trainable, x, training=True)
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, y_pred))
            g = tape.gradient(loss, trainable)
            return tf.stack([tf.norm(g[i]) for i in slots])

        return tf_norms

    def grad_norms(self) -> list[float]:
        """L2 norm of the loss gradient for each Dense kernel, on the probe batch."""
        trainable = [v.value for v in self.model.trainable_variables]
        non_trainable = [v.value for v in self.model.non_trainable_variables]
        x = self.x.reshape((len(self.x), *self.model.input_shape[1:]))
        values = self.gradient_program(trainable, non_trainable, x, self.y)
        return [float(v) for v in np.asarray(values)]

    def measure(self) -> list[dict[str, Any]]:
        """One row per Dense/BN layer: its statistics now (`bntui.core.events.LAYER_STATS`)."""
        return self.forward()[0]

    def forward(self) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Replay the model on the probe batch: each layer's statistics, and the output."""
        norms = iter(self.grad_norms())
        layers = self.model.layers
        rows: list[dict[str, Any]] = []
        h = self.x
        for i, layer in enumerate(layers):
            if isinstance(layer, keras.layers.Dense):
                kernel, bias = layer.get_weights()
                z = h @ kernel + bias
                act, slope = _activation_name(layer), 0.0
                following = layers[i + 1] if i + 1 < len(layers) else None
                if act == "linear" and isinstance(following, ACTIVATION_LAYERS):
                    act = _activation_name(following)
                    slope = float(getattr(following, "negative_slope", 0.0))
                in_mean, in_std = _mean_std(h)
                pre_mean, pre_std = _mean_std(z)
                # A unit is dead when no probe image makes it positive (ReLU outputs 0 then).
                # LeakyReLU never outputs exactly 0: no value rather than a reassuring 0%.
                dead = float(np.mean(np.all(z <= 0, axis=0))) if act == "relu" else None
                rows.append(
                    {
                        "name": layer.name,
                        "kind": "dense",
                        "units": int(kernel.shape[1]),
                        "in_mean": in_mean,
                        "in_std": in_std,
                        "pre_mean": pre_mean,
                        "pre_std": pre_std,
                        "dead": dead,
                        "grad_norm": next(norms),
                    }
                )
                h = _activate(act, z, slope)
            elif isinstance(layer, keras.layers.BatchNormalization):
                gamma, beta, moving_mean, moving_var = layer.get_weights()
                mu, var = h.mean(axis=0), h.var(axis=0)
                moving_sd = np.sqrt(moving_var + layer.epsilon)
                rows.append(
                    {
                        "name": layer.name,
                        "kind": "bn",
                        "units": int(gamma.shape[0]),
                        "gamma_mean": float(gamma.mean()),
                        "gamma_std": float(gamma.std()),
                        "beta_mean": float(beta.mean()),
                        "beta_std": float(beta.std()),
                        "moving_mean": float(moving_mean.mean()),
                        "moving_var": float(moving_var.mean()),
                        "batch_shift": float(np.mean(np.abs(mu - moving_mean) / moving_sd)),
                        "batch_var_ratio": float(np.mean((var + layer.epsilon) / moving_sd**2)),
                    }
                )
                h = (h - mu) / np.sqrt(var + layer.epsilon) * gamma + beta
            # Flatten is done up front, Dropout is the identity in expectation, and
            # activation layers were applied with the Dense before them.
        return rows, h
