"""A cell: one independent training job of the battery (one model configuration, all its
seeds), as plain data. Claims are built from cells; cells know nothing of claims.

A cell's seeds train as one vectorised program; seed s of every cell sees the training
images in the order `data_order(s, epoch)`, so seed s of a plain cell and seed s of a BN
cell form a pair.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Family = Literal["mlp", "deep"]
Activation = Literal["relu", "leaky_relu", "sigmoid"]
Initializer = Literal["glorot_uniform", "he_normal", "lecun_normal", "orthogonal"]
Inputs = Literal["raw", "standardized"]
Harness = Literal["fused", "fit"]
# What normalises where the BN model has BN (claim small-batches' remedies): BN itself, batch
# renormalisation (Ioffe 2017), layer norm, group norm (Wu & He 2018).
Norm = Literal["batch", "renorm", "layer", "group"]

# What the deep stack is (claim gradients): this many Dense layers (by default) of this width.
DEEP_LAYERS = 8
DEEP_WIDTH = 100
NORM_LABELS = {
    "batch": "BN",
    "renorm": "batch renorm",
    "layer": "layer norm",
    "group": "group norm",
}
# Per-pixel standardisation as a BN layer does it at inference, with the training slice's
# mean and variance and BN's epsilon: (x − mean) / sqrt(var + ε).
STANDARDIZE_EPSILON = 1e-3
# Precise BN's population: the first this many images of the cell's training slice.
PRECISE_SIZE = 2_000
# The step sizes η of the landscape probe, half a decade apart: from the base rate (0.01) to
# 300 times it, inside the learning-rate claim's grid.
LANDSCAPE_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class CellSpec:
    """One model configuration trained for every seed. Field names are the file's keys."""

    id: str
    family: Family = "mlp"
    batch_norm: bool = False
    activation: Activation = "relu"
    initializer: Initializer = "glorot_uniform"
    init_scale: float = 1.0
    learning_rate: float = 0.01
    batch_size: int = 32
    epochs: int = 5
    train_size: int = 6_000
    valid_size: int = 2_000
    seeds: tuple[int, ...] = (42, 43, 44)
    # Validation accuracy this many times per epoch (convergence needs more than one).
    evals_per_epoch: int = 1
    # Layer measurements on the fixed probe batch this many times per epoch (0 = none).
    probes_per_epoch: int = 0
    # BN's accuracy in training mode (batch statistics) next to inference mode.
    train_mode: bool = False
    # Timed: each seed alone, and nothing else running (claim cost).
    timed: bool = False
    # The pixels as loaded (/255), or standardised per pixel (`STANDARDIZE_EPSILON`): the
    # control for the BN model's first BN, which standardises the raw pixels.
    inputs: Inputs = "raw"
    # The BN model's first BN, on the pixels (the notebooks' model has it); False keeps BN
    # only before the hidden and output Dense layers.
    input_bn: bool = True
    # Dense layers of the deep stack.
    depth: int = DEEP_LAYERS
    # BN evaluated with population statistics (precise BN): at each evaluation, BN's
    # statistics are recomputed over `PRECISE_SIZE` training images with the current
    # weights, so the moving averages' lag (momentum 0.99) is not counted against BN.
    precise_bn: bool = False
    # How a timed cell trains: bntui's fused JAX loop, or Keras `fit` on TensorFlow (the
    # notebooks' harness, in a child process).
    harness: Harness = "fused"
    # After training: the deployed models' checks (corrupted inputs, batch companions at
    # inference; `bntui.claims.worker.deployment`), no training.
    end_checks: bool = False
    # The normalisation layer where `batch_norm` puts one (see `Norm`).
    norm: Norm = "batch"
    # Dropout after each hidden activation (0: none).
    dropout: float = 0.0
    # BN's statistics over sub-batches of this many examples in training (0: the whole batch).
    ghost_batch: int = 0
    # Each seed's per-step training loss over the last epoch, summarised (claim small-batches).
    step_losses: bool = False
    # Santurkar et al.'s "noisy BN": after each hidden BN, in training, every unit's output
    # is scaled by U(1 − n, 1 + n) and shifted by U(−n, n), drawn afresh each step (0: none).
    bn_noise: float = 0.0
    # The loss landscape along the gradient (claim smoothness) at this many points: the start
    # and evenly spaced epoch ends (0: none); the step sizes are `LANDSCAPE_RATES`.
    landscape_points: int = 0

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch (the last partial batch is dropped)."""
        return self.train_size // self.batch_size

    @property
    def label(self) -> str:
        """A short description of the model: what a chart's legend or a table names."""
        bn = "BN" if self.batch_norm else "plain"
        init = self.initializer.replace("_uniform", "").replace("_normal", "")
        parts = [bn, self.activation.replace("_", ""), init]
        if self.family == "deep":
            parts.insert(0, f"{self.depth}x{DEEP_WIDTH}")
        if self.batch_norm and not self.input_bn and self.family == "mlp":
            parts[0] = "BN (hidden only)"
        if self.batch_norm and self.norm != "batch":
            parts[0] = NORM_LABELS[self.norm]
        if self.ghost_batch:
            parts[0] += f" (ghost batches of {self.ghost_batch})"
        if self.dropout:
            parts.insert(1, f"dropout {self.dropout:g}")
        if self.bn_noise:
            parts[0] += " + noise"
        if self.inputs == "standardized":
            parts.append("standardised inputs")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (seeds as a list)."""
        data = asdict(self)
        data["seeds"] = list(self.seeds)
        return data

    def work(self) -> float:
        """A rough cost in arbitrary units (multiply-adds and per-step overheads), from which
        the runner predicts durations; it is calibrated on the cells that finish."""
        if self.family == "deep":
            macs = 784 * DEEP_WIDTH + DEEP_WIDTH * DEEP_WIDTH * (self.depth - 1) + DEEP_WIDTH * 10
        else:
            macs = 784 * 300 + 300 * 100 + 100 * 10
        seeds = len(self.seeds)
        examples = self.train_size * self.epochs
        steps = self.steps_per_epoch * self.epochs
        evals: float = self.valid_size * self.epochs * self.evals_per_epoch
        if self.precise_bn and self.batch_norm:
            evals *= 2 + PRECISE_SIZE / self.valid_size
        flops = seeds * (6 * macs * examples + 2 * macs * (evals + self.train_size))
        layers = self.depth if self.family == "deep" else 3
        # BN layers cost about half again; each step has an overhead per layer and seed.
        norm = 1.5 if self.batch_norm else 1.0
        overhead = seeds * steps * layers * 4e-5 * norm
        return (flops / 2e9 * norm + overhead) / 10 + (0.5 if not self.timed else 1.0)
