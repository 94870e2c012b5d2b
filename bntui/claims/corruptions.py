"""The fixed corruptions of the robustness claim: a shift of the input distribution applied
to the validation images after training, each stated and seeded so that every cell and every
run sees exactly the same corrupted images.

They act on the pixels as loaded (0 to 1); a model trained on standardised pixels gets the
corrupted pixels standardised with its training slice's statistics, as its clean ones were.
Plain NumPy: the worker applies them, the quantities and texts name them.
"""

from __future__ import annotations

import numpy as np

# Each corruption's name and level, as the report states them. Mild enough that neither
# model falls to chance (a calibration run at 0.3 / 0.4 / 0.3 left both near 20-45%, where
# a floor would hide any difference); fixed before the battery's verdicts.
BRIGHTNESS = 0.1  # added to every pixel, then clipped to [0, 1]
CONTRAST = 0.6  # each image's deviations from its own mean pixel, multiplied by this
NOISE = 0.15  # standard deviation of Gaussian noise added per pixel, then clipped to [0, 1]
NOISE_SEED = 0
CORRUPTIONS = ("brightness", "contrast", "noise")
TEXT = {
    "brightness": f"brightness +{BRIGHTNESS:g} (clipped to [0, 1])",
    "contrast": f"contrast ×{CONTRAST:g} about each image's mean",
    "noise": f"Gaussian noise σ = {NOISE:g} (seed {NOISE_SEED}, clipped to [0, 1])",
}


def corrupt(name: str, x: np.ndarray) -> np.ndarray:
    """The images `x` (pixels 0 to 1, any shape with images on axis 0) under corruption
    `name`, in `x`'s dtype. The noise is the same for the same images, whatever the cell."""
    if name == "brightness":
        out = np.clip(x + BRIGHTNESS, 0.0, 1.0)
    elif name == "contrast":
        mean = x.reshape(len(x), -1).mean(axis=1).reshape(-1, *[1] * (x.ndim - 1))
        out = mean + CONTRAST * (x - mean)
    elif name == "noise":
        noise = np.random.default_rng(NOISE_SEED).normal(0.0, NOISE, x.shape)
        out = np.clip(x + noise, 0.0, 1.0)
    else:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")
    return out.astype(x.dtype)
