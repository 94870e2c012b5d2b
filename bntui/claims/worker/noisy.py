"""Santurkar et al.'s (2018) "noisy BN" arm: a layer after BN that shifts the distribution of
every unit's output by a random scale and offset, drawn afresh at each training step, so that
the next layer's input distribution moves all through training (more internal covariate shift
by construction). The paper perturbs each activation with noise of a non-zero mean and a
non-unit variance whose distribution changes at each step; here the change is a per-unit affine
map (scale U(1 − n, 1 + n), shift U(−n, n)), the same for every example of the batch, so it
moves the distribution without adding per-example noise (which would act as a regulariser).
Its expected map is the identity; at inference it is off.

Runs inside a worker process (Keras).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers


class DistributionNoise(layers.Layer):
    """Training only: each unit's input times U(1 − n, 1 + n) plus U(−n, n), redrawn at every
    call (every step); its random state is a non-trainable variable, so each seed of a stacked
    cell draws its own."""

    def __init__(self, amount: float, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.amount, self.seed = amount, seed
        # An explicit seed: a drawn one would use up the global random state, and the Dense
        # layers built after it would start from other weights than the BN arm's.
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool = False) -> Any:
        """The input, moved at random in training; unchanged at inference."""
        if not training:
            return inputs
        shape = (inputs.shape[-1],)
        n = self.amount
        scale = keras.random.uniform(shape, 1.0 - n, 1.0 + n, seed=self.generator)
        shift = keras.random.uniform(shape, -n, n, seed=self.generator)
        return inputs * scale + shift

    def get_config(self) -> dict[str, Any]:
        """The layer's settings (Keras' serialisation)."""
        return {**super().get_config(), "amount": self.amount, "seed": self.seed}
