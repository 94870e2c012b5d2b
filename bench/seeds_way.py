"""The seed notebooks' experiment, written their way: plain Keras on TensorFlow, no bntui.

Float64 inputs (pixels / 255.0), batch 32, 10 epochs, SGD lr 1e-3, validation each epoch,
verbose=0, the plain model then the BN model, one after the other, then test evaluation.
Prints one JSON line with what the benchmark needs.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def main() -> None:
    """Load, build, fit and evaluate both models as the notebooks do."""
    from bntui.training.data import load_raw  # the same files the notebooks load

    (x_full, y_full), (x_test, y_test) = load_raw("fashion_mnist")
    x_full = x_full / 255.0
    x_test = x_test / 255.0
    x_valid, x_train = x_full[:5000], x_full[5000:]
    y_valid, y_train = y_full[:5000], y_full[5000:]
    results = {}
    for name in ("plain", "bn"):
        tf.random.set_seed(42)
        np.random.seed(42)
        if name == "plain":
            layers = [
                tf.keras.layers.Flatten(input_shape=[28, 28]),
                tf.keras.layers.Dense(300, kernel_initializer="he_normal"),
                tf.keras.layers.LeakyReLU(),
                tf.keras.layers.Dense(100, kernel_initializer="he_normal"),
                tf.keras.layers.LeakyReLU(),
                tf.keras.layers.Dense(10, activation="softmax"),
            ]
        else:
            layers = [
                tf.keras.layers.Flatten(input_shape=[28, 28]),
                tf.keras.layers.BatchNormalization(),
                tf.keras.layers.Dense(300, activation="relu"),
                tf.keras.layers.BatchNormalization(),
                tf.keras.layers.Dense(100, activation="relu"),
                tf.keras.layers.BatchNormalization(),
                tf.keras.layers.Dense(10, activation="softmax"),
            ]
        model = tf.keras.models.Sequential(layers)
        model.compile(
            loss="sparse_categorical_crossentropy",
            optimizer=tf.keras.optimizers.SGD(learning_rate=1e-3),
            metrics=["accuracy"],
        )
        start = time.time()
        model.fit(x_train, y_train, epochs=EPOCHS, validation_data=(x_valid, y_valid), verbose=0)
        fit_s = time.time() - start
        loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
        results[name] = {"fit_s": fit_s, "test_accuracy": accuracy, "test_loss": loss}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
