"""What every training path shares (one worker's seeds, the stacked seeds, a claims cell):
seeding, finite numbers, the divergence rule, and the imports a worker skips. Keras is
imported inside: seeding needs it.
"""

from __future__ import annotations

import math
import sys
from typing import Any

# Modules Keras tries to import only to accept their types as inputs (pandas: DataFrames),
# which a worker never passes. pandas alone costs 0.2-0.4 s of every worker's start.
UNUSED_IN_WORKERS = ("pandas",)


def finite_float(value: Any) -> float | None:
    """`value` as a finite float, or None (NaN, infinity, or not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# Keras clips probabilities, so on some backends an exploding model saturates near
# -log(1e-7) ≈ 16 instead of reaching NaN. Three times chance level (10 classes) is a loss
# no healthy run shows, so it counts as divergence too.
EXPLODED_LOSS = 3 * math.log(10)


def is_diverged(loss: float | None) -> bool:
    """True for a NaN/inf loss or one that exploded past EXPLODED_LOSS."""
    return loss is None or loss > EXPLODED_LOSS


def skip_unused_imports() -> None:
    """Make `import pandas` fail in this worker process unless it was imported already.

    Keras catches the ImportError and carries on without DataFrame support, which a worker
    never uses; the import would delay every worker's start (the training's critical path).
    """
    for name in UNUSED_IN_WORKERS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def seed_everything(seed: int, backend: str) -> None:
    """Seed Python, NumPy and Keras like `keras.utils.set_random_seed`, minus needless imports.

    That function also seeds TensorFlow whenever it is installed, importing it (2+ s per
    worker) even when the backend is JAX.
    """
    import keras

    if backend == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    import random

    import numpy as np
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("global_random_seed", seed)
    random.seed(seed)
    np.random.seed(seed)
