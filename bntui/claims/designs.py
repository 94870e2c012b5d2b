"""The battery's designs: its scales (quick, full, tiny), the models the claims compare, and
the cells each claim trains. `bntui.claims.battery` puts them together with each claim's
quantity, rule and literature.

Nine seeds at the quick scale, not eight: with every seed on one side the exact sign-flip p
is 1/2^n, and Holm across the 13 claims must clear 0.05 / 13 (1/256 would not; 1/512 does).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bntui.claims.cells import DEEP_LAYERS, Activation, CellSpec, Initializer, Norm


@dataclass(frozen=True)
class Scale:
    """How big the battery is: data slices, epochs, seeds and grids."""

    name: str
    seeds: int
    base_train: int
    valid: int
    base_epochs: int
    sweep_train: int
    sweep_epochs: int
    cost_train: int
    target: float  # design 1–2 convergence target; since 3 the target is plain's own end
    # Half a decade apart, up to a rate no plain MLP trains at (so BN's limit is seen too).
    lr_grid: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    init_scales: tuple[float, ...] = (0.1, 1.0, 10.0)
    # Not 2: BN over two examples outputs about ±γ + β whatever the inputs, a foregone result.
    batch_sizes: tuple[int, ...] = (4, 8, 16, 32)
    # The deep stacks of the gradients claim: their depths and activations.
    depths: tuple[int, ...] = (8, 16, 32)
    deep_activations: tuple[Activation, ...] = ("sigmoid", "relu")
    # The notebooks' harness (Keras `fit` on TensorFlow) times epochs of this many images.
    fit_train: int = 8_000
    # Claim regularisation: a training slice small enough that the plain model fits it
    # (overfits), and epochs enough to fit it at `REG_RATE`.
    reg_train: int = 2_000
    reg_epochs: int = 30


SCALES = {
    "quick": Scale("quick", seeds=9, base_train=20_000, valid=2_000, base_epochs=8,
                   sweep_train=8_000, sweep_epochs=3, cost_train=55_000, target=0.80),
    # For tests only (`--scale tiny`, hidden): every design in seconds, nothing to conclude.
    "tiny": Scale("tiny", seeds=2, base_train=512, valid=256, base_epochs=2, sweep_train=256,
                  sweep_epochs=1, cost_train=512, target=0.5, lr_grid=(0.01, 1.0, 3.0),
                  batch_sizes=(4, 32, 64), depths=(4, 8), fit_train=512, reg_train=256,
                  reg_epochs=3),
    "full": Scale("full", seeds=10, base_train=55_000, valid=5_000, base_epochs=10,
                  sweep_train=20_000, sweep_epochs=5, cost_train=55_000, target=0.85,
                  reg_train=4_000, reg_epochs=60),
}  # fmt: skip

# Validation accuracy this many times an epoch in the shared cells (every 156 steps at quick
# scale); their end point is the mean of the last epoch's evaluations.
BASE_EVALS = 4
# ... and in the learning-rate grid's cells, whose curves give convergence at each model's
# own best rate.
LR_EVALS = 4
# The learning rate of every cell but the learning-rate grid and the batch sizes.
BASE_RATE = 0.01
# Small batches: the rate scales with the batch (linear scaling rule) around this batch.
RATE_BATCH = 32
# The noisy BN arm's amount n: each step, a unit's output × U(1 − n, 1 + n) + U(−n, n).
BN_NOISE = 0.5
# The controlled pair's shared cells measure the loss landscape (claim smoothness) at the
# start and at this many minus one evenly spaced epoch ends.
LANDSCAPE_POINTS = 4


# The confound's smallest effect that matters, in points (its rule's margin and the TOST
# margin of its activation/init part).
CONFOUND_MARGIN = 1.0
# A speed-up smaller than ×1.25 either way does not matter (convergence's margin, in log10).
SPEEDUP_MARGIN = math.log10(1.25)


def seed_values(seed: int, scale: Scale) -> tuple[int, ...]:
    """The seeds every cell of the battery trains: `seed`, `seed + 1`, ..."""
    return tuple(seed + k for k in range(scale.seeds))


# The models the claims compare, by key. `plain` and `bn` are the controlled pair: the same
# MLP (ReLU, glorot_uniform), BN before each Dense or not, and the plain model's pixels
# standardised as the BN model's first BN standardises them, so that the pair differs in the
# hidden layers' BN alone. The other two complete the 2×2 (input standardisation × hidden BN)
# of convergence and the confound; `seeds-plain` is the notebooks' own plain model.
MODELS: dict[str, dict[str, Any]] = {
    "plain": {"inputs": "standardized"},
    "bn": {"batch_norm": True},
    "plain-raw": {},
    "bn-hidden": {"batch_norm": True, "input_bn": False},
    "seeds-plain": {"activation": "leaky_relu", "initializer": "he_normal"},
    # Santurkar et al.'s noisy BN (claim shift): the BN model with its hidden BNs' outputs
    # moved at random each step.
    "noisy-bn": {"batch_norm": True, "bn_noise": BN_NOISE},
}
PAIR = ("plain", "bn")
SQUARE = ("plain-raw", "plain", "bn-hidden", "bn")


def _model(key: str, id_: str, **fields: Any) -> CellSpec:
    """A cell of model `key` (see `MODELS`), with `fields` set."""
    return CellSpec(id=id_, **{**MODELS[key], **fields})


def base_cell(key: str, scale: Scale, seeds: tuple[int, ...]) -> CellSpec:
    """A shared cell: the 2×2 of convergence and the confound, shift, robustness, inference
    and smoothness."""
    return _model(
        key,
        f"base/{key}",
        learning_rate=BASE_RATE,
        epochs=scale.base_epochs,
        train_size=scale.base_train,
        valid_size=scale.valid,
        seeds=seeds,
        evals_per_epoch=BASE_EVALS,
        probes_per_epoch=2,
        precise_bn=bool(MODELS[key].get("batch_norm")),
        end_checks=key in PAIR,
        landscape_points=LANDSCAPE_POINTS if key in PAIR else 0,
    )


def _sweep(id_: str, key: str, scale: Scale, seeds: tuple[int, ...]) -> CellSpec:
    return _model(
        key,
        id_,
        learning_rate=BASE_RATE,
        epochs=scale.sweep_epochs,
        train_size=scale.sweep_train,
        valid_size=scale.valid,
        seeds=seeds,
    )


def rate_label(rate: float) -> str:
    """A learning rate as a cell id part: 0.001, 0.3, 3."""
    return f"{rate:g}"


def lr_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Both models at each rate of the grid; everything else fixed. Evaluated `LR_EVALS`
    times an epoch, BN with population statistics (convergence reads their curves)."""
    return [
        replace(
            _sweep(f"lr/{key}/{rate_label(rate)}", key, scale, seeds),
            learning_rate=rate,
            evals_per_epoch=LR_EVALS,
            precise_bn=key == "bn",
        )
        for rate in scale.lr_grid
        for key in ("plain", "bn")
    ]


def init_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Both models with every Dense kernel's initial weights multiplied by each scale."""
    return [
        replace(_sweep(f"init/{key}/{factor:g}", key, scale, seeds), init_scale=factor)
        for factor in scale.init_scales
        for key in ("plain", "bn")
    ]


def deep_id(activation: str, depth: int, key: str) -> str:
    """A deep stack's cell id (the 8-layer sigmoid stack keeps its first name, `deep/bn`)."""
    if (activation, depth) == ("sigmoid", DEEP_LAYERS):
        return f"deep/{key}"
    return f"deep/{activation}{depth}/{key}"


def deep_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Deep stacks of each depth and activation, with and without BN (both on standardised
    pixels: the stack's BN follows each Dense, none is on the input), measured on the probe
    at the start and twice an epoch."""
    return [
        replace(
            _sweep(deep_id(act, depth, key), key, scale, seeds),
            family="deep",
            activation=act,
            depth=depth,
            inputs="standardized",
            probes_per_epoch=2,
            epochs=scale.sweep_epochs + 1,
        )
        for act in scale.deep_activations
        for depth in scale.depths
        for key in PAIR
    ]


def batch_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Both models at each batch size, the rate scaled with it; BN also in training mode."""
    return [
        replace(
            _sweep(f"batch/{key}/{size}", key, scale, seeds),
            batch_size=size,
            learning_rate=BASE_RATE * size / RATE_BATCH,
            train_mode=key == "bn",
            step_losses=True,
        )
        for size in scale.batch_sizes
        for key in ("plain", "bn")
    ]


# Claim small-batches' remedies for BN at small batches, in place of the hidden layers' BN.
REMEDIES: tuple[Norm, ...] = ("renorm", "layer", "group")
# Claim init: the initialiser schemes (glorot_uniform, every other cell's, first).
INIT_SCHEMES: tuple[Initializer, ...] = (
    "glorot_uniform",
    "he_normal",
    "lecun_normal",
    "orthogonal",
)
# Claim regularisation: the rate (high enough to fit the slice in the epochs), dropout's
# rate after each hidden activation, and the ghost batch (BN statistics over sub-batches of
# this many at the optimisation batch of 32).
REG_RATE = 0.1
REG_DROPOUT = 0.3
REG_GHOST = 8
# The regularisation arms: the controlled pair, dropout on each, and BN with ghost batches.
REG_ARMS: dict[str, dict[str, Any]] = {
    "plain": {},
    "bn": {},
    "plain-dropout": {"dropout": REG_DROPOUT},
    "bn-dropout": {"dropout": REG_DROPOUT},
    "bn-ghost": {"ghost_batch": REG_GHOST},
}


def scheme_id(key: str, scheme: str) -> str:
    """An init cell's id: glorot_uniform at scale 1 is the scale grid's `init/key/1`."""
    return f"init/{key}/1" if scheme == "glorot_uniform" else f"init/{key}/{scheme}"


def init_scheme_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Both models with each initialiser scheme (glorot_uniform is the scale grid's ×1)."""
    return [
        replace(_sweep(scheme_id(key, scheme), key, scale, seeds), initializer=scheme)
        for scheme in INIT_SCHEMES
        for key in PAIR
    ]


def init_all_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Claim init: the schemes (its quantity) and the kernel scales beside them."""
    cells = {c.id: c for c in (*init_scheme_cells(scale, seeds), *init_cells(scale, seeds))}
    return list(cells.values())


def remedy_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """The remedies at the smallest batch and at 32: the controlled plain model (standardised
    pixels) with the remedy before the hidden and output Dense layers, as the BN model has
    BN there, trained as the BN cells of its batch size."""
    return [
        replace(
            _sweep(f"batch/{norm}/{size}", "plain", scale, seeds),
            batch_norm=True,
            input_bn=False,
            norm=norm,
            batch_size=size,
            learning_rate=BASE_RATE * size / RATE_BATCH,
            train_mode=norm == "renorm",
            step_losses=True,
        )
        for size in (scale.batch_sizes[0], RATE_BATCH)
        for norm in REMEDIES
    ]


def small_batch_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Claim small-batches: both models at each batch size, then the remedies."""
    return [*batch_cells(scale, seeds), *remedy_cells(scale, seeds)]


def reg_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Claim regularisation: each arm on the small slice, SGD at `REG_RATE` for
    `reg_epochs`, validation accuracy every epoch."""
    return [
        _model(
            "bn" if arm.startswith("bn") else "plain",
            f"reg/{arm}",
            learning_rate=REG_RATE,
            epochs=scale.reg_epochs,
            train_size=scale.reg_train,
            valid_size=scale.valid,
            seeds=seeds,
            **fields,
        )
        for arm, fields in REG_ARMS.items()
    ]


def cost_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Both models timed alone, each seed on its own, in the notebooks' harness (Keras `fit`
    on TensorFlow, 3 epochs) and in bntui's fused JAX loop (4 epochs); the first epoch
    compiles, the fastest of the others counts."""
    fit = [
        replace(
            _sweep(f"cost-fit/{key}", key, scale, seeds),
            train_size=scale.fit_train,
            epochs=3,
            timed=True,
            harness="fit",
        )
        for key in PAIR
    ]
    fused = [
        replace(
            _sweep(f"cost/{key}", key, scale, seeds),
            train_size=scale.cost_train,
            epochs=4,
            timed=True,
        )
        for key in PAIR
    ]
    return [*fit, *fused]


def shared_cells(*keys: str) -> Callable[[Scale, tuple[int, ...]], list[CellSpec]]:
    """A claim's cells that are shared cells (`base_cell`) of the models `keys`."""
    return lambda scale, seeds: [base_cell(key, scale, seeds) for key in keys]


def convergence_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """The 2×2 at the shared rate, and the learning-rate grid (each model at its own best
    rate)."""
    return [*shared_cells(*SQUARE)(scale, seeds), *lr_cells(scale, seeds)]
