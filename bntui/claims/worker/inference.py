"""Claim `cost` at inference: a trained model's time to predict the validation images, and
for BN the same model with each BN folded into the Dense after it (W' = diag(γ/σ)·W,
b' = b + (β − γμ/σ)·W, σ = sqrt(moving variance + ε)): the plain architecture, so BN costs
nothing at inference once folded. The folded model's predictions are checked against the
BN model's.

Runs inside a worker process (Keras, JAX).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import jax
import keras
import numpy as np
from keras import layers

from bntui.claims.cells import CellSpec
from bntui.claims.worker.train import build

CHUNK = 1_000
REPEATS = 5


def predictor(model: keras.Model) -> Any:
    """A jitted inference-mode forward pass of `model` over one chunk of images."""
    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]

    @jax.jit
    def predict(x: Any) -> Any:
        return model.stateless_call(trainable, fixed, x, training=False)[0]

    return predict


def timed_predictions(model: keras.Model, x: np.ndarray) -> tuple[float, np.ndarray]:
    """The fastest of `REPEATS` passes over `x` (after one that compiles), in seconds, and
    the predicted probabilities."""
    predict = predictor(model)
    chunks = [x[i : i + CHUNK] for i in range(0, len(x) - CHUNK + 1, CHUNK)]
    out = [np.asarray(predict(c)) for c in chunks]
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for c in chunks:
            predict(c).block_until_ready()
        best = min(best, time.perf_counter() - started)
    return best, np.concatenate(out)


def folded(cell: CellSpec, model: keras.Model) -> keras.Model:
    """The plain-architecture model equal to BN model `model` at inference."""
    plain = build(replace(cell, batch_norm=False))
    plain.build((None, 28, 28))
    norm: Any = None
    denses = iter(layer for layer in plain.layers if isinstance(layer, layers.Dense))
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            norm = layer
        elif isinstance(layer, layers.Dense):
            kernel, bias = np.asarray(layer.kernel.value), np.asarray(layer.bias.value)
            if norm is not None:
                sigma = np.sqrt(np.asarray(norm.moving_variance.value) + norm.epsilon)
                scale = np.asarray(norm.gamma.value) / sigma
                shift = np.asarray(norm.beta.value) - scale * np.asarray(norm.moving_mean.value)
                kernel, bias = kernel * scale[:, None], bias + shift @ kernel
            target = next(denses)
            target.kernel.assign(kernel)
            target.bias.assign(bias)
            norm = None
    return plain


def inference_costs(cell: CellSpec, model: keras.Model, x: np.ndarray) -> dict[str, Any]:
    """The trained `model`'s inference time on `x`; for BN also the folded model's, and the
    largest difference between their predicted probabilities."""
    seconds, probs = timed_predictions(model, x)
    out: dict[str, Any] = {"inference_seconds": round(seconds, 6)}
    if cell.batch_norm and cell.family == "mlp":
        folded_seconds, folded_probs = timed_predictions(folded(cell, model), x)
        out["folded_inference_seconds"] = round(folded_seconds, 6)
        out["fold_error"] = float(np.max(np.abs(folded_probs - probs)))
    return out
