"""The battery: the seed notebooks' claims, each with its design (the cells it trains), the
quantity it measures, its pre-stated decision rule and the notebook sentence it tests. Two
sizes: `quick` (slices, 9 seeds) and `full` (real data, 10 seeds).

Nine seeds, not eight: with every seed on one side the exact sign-flip p is 1/2^n, and Holm
across the 13 claims must clear 0.05 / 13 (1/256 would not; 1/512 does).

The controlled pair, used wherever a claim is about BN alone, differs only in the BN
layers (and the plain model's pixels standardised as BN's first BN standardises them):
ReLU and glorot_uniform in both. The notebooks' own plain model (LeakyReLU, he_normal)
appears only in the confound claim.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from bntui.claims.cells import (
    DEEP_LAYERS,
    LANDSCAPE_RATES,
    Activation,
    CellSpec,
    Initializer,
    Norm,
)
from bntui.claims.rules import Rule


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


def _base(*keys: str) -> Callable[[Scale, tuple[int, ...]], list[CellSpec]]:
    return lambda scale, seeds: [base_cell(key, scale, seeds) for key in keys]


def convergence_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """The 2×2 at the shared rate, and the learning-rate grid (each model at its own best
    rate)."""
    return [*_base(*SQUARE)(scale, seeds), *lr_cells(scale, seeds)]


@dataclass(frozen=True)
class Published:
    """The published experiment nearest a claim: what it did and found (only what was read
    in the paper's own abstract or text), how its setting differs from bntui's, and whether
    it found for the notebooks' claim ("supports"), against it ("against"), or both ("mixed")."""

    paper: str
    finding: str
    setting: str
    stance: Literal["supports", "against", "mixed"]


@dataclass(frozen=True)
class Claim:
    """One claim of the notebooks and how the battery tests it."""

    name: str
    title: str
    notebook: str  # which notebook and where
    quote: str  # the sentence it tests, as the notebook words it
    quantity: str  # what the interval is of
    unit: str
    rule: Rule
    cells: Callable[[Scale, tuple[int, ...]], list[CellSpec]]
    published: Published | None = None  # the best published experiment, where there is one


# Each figure below was read in the paper's own abstract (or the section named).
IOFFE = (
    'Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network Training by '
    'Reducing Internal Covariate Shift" (ICML; abstract and §4.2.2)'
)
BJORCK = (
    'Bjorck, Gomes, Selman & Weinberger 2018, "Understanding Batch Normalization" '
    "(NeurIPS; abstract)"
)
HOFFER = (
    'Hoffer, Hubara & Soudry 2017, "Train longer, generalize better: closing the '
    'generalization gap in large batch training of neural networks" (NeurIPS; abstract)'
)
SANTURKAR = (
    'Santurkar, Tsipras, Ilyas & Madry 2018, "How Does Batch Normalization Help Optimization?" '
    "(NeurIPS; abstract)"
)
IMAGENET = "an Inception network on ImageNet, not a 3-layer MLP on Fashion-MNIST"

CLAIMS: dict[str, Claim] = {
    c.name: c
    for c in (
        Claim("convergence", "BN converges faster",
              "001, answer to Q2 (also 003, 004)",
              "It allows the model to converge faster and achieve better accuracy in fewer "
              "iterations.",
              "speed-up to plain's final accuracy, plain's steps / BN's, each model at its own "
              "best rate of the learning-rate grid (log10; shown as a ratio)", "×",
              Rule("positive", margin=SPEEDUP_MARGIN), convergence_cells,
              Published(f"{IOFFE}; {BJORCK}",
                        "BN reached the original network's accuracy in 14 times fewer training "
                        "steps, with a higher learning rate among other changes; Bjorck et al. "
                        "trace the speed-up mainly to the larger learning rates BN allows",
                        f"{IMAGENET}; here each model at its own best rate of a half-decade "
                        "grid on an 8,000-image slice, and at one shared rate beside it",
                        "supports")),
        Claim("lr", "BN allows higher learning rates", "003, advantages; 004, closing notes",
              "Allows for larger learning rates: The improved stability provided by batch "
              "normalization allows for the use of larger learning rates.",
              "log10 of the largest rate that trains, BN − plain", "decades",
              Rule("positive", margin=0.5), lr_cells,
              Published(f"{IOFFE}; {BJORCK}",
                        "BN allows much higher learning rates; without BN, large updates make "
                        "the loss diverge and activations grow with depth",
                        f"{IMAGENET} (Bjorck et al.: residual networks on CIFAR-10)", "supports")),
        Claim("init", "BN makes training less sensitive to initialisation",
              "001, answer to Q2 (also 003, 004)",
              "Batch normalization makes the network less sensitive to the choice of initial "
              "weights.",
              "spread of final validation accuracy across initialiser schemes (glorot, he, "
              "lecun, orthogonal), plain − BN (kernel scales beside)", "points",
              Rule("positive", margin=1.0), init_all_cells,
              Published(IOFFE, "BN lets a network be less careful about initialisation",
                        f"{IMAGENET}; stated, not measured as a spread", "supports")),
        Claim("gradients", "BN keeps gradients from vanishing",
              "001, answer to Q2 (also 003, 004)",
              "Normalizing the inputs reduces the impact of vanishing or exploding gradients.",
              "imbalance of the gradient flow, |log10 first/last layer's gradient norm|, during "
              "training, plain − BN (the 8-layer sigmoid stack; deeper and ReLU stacks beside)",
              "decades",
              Rule("positive", margin=0.5), deep_cells,
              Published('Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019, "A Mean Field '
                        'Theory of Batch Normalization" (ICLR; abstract)',
                        "in deep fully-connected networks at initialisation, BN itself makes "
                        "gradients explode, exponentially in depth, for any nonlinearity; "
                        "without skip connections such networks are untrainable at large depth",
                        "wide deep networks at initialisation; here a deep sigmoid stack during "
                        "training, where the plain net's gradients vanish", "mixed")),
        Claim("shift", "Internal covariate shift is why BN helps",
              "001, Q1 and answer to Q2 (also 003, 004)",
              "By normalizing the inputs and reducing the internal covariate shift, batch "
              "normalization helps accelerate the training process.",
              "validation accuracy at the end, BN − noisy BN (BN whose hidden outputs are "
              "moved at random each step: more shift by construction)", "points",
              Rule("positive", margin=1.0), _base("plain", "bn", "noisy-bn"),
              Published(SANTURKAR,
                        "BN's effectiveness has little to do with reducing internal covariate "
                        "shift: it makes the loss landscape and its gradients smoother",
                        "VGG networks on CIFAR-10, noise after every BN; here a 3-layer MLP "
                        "on Fashion-MNIST, a random per-unit scale and shift after the hidden "
                        "BNs", "against")),
        Claim("regularisation", "BN regularises", "001, answer to Q2 (also 003, 004)",
              "Batch normalization acts as a regularizer by adding a small amount of noise to "
              "the inputs.",
              "best validation accuracy over training on a slice the plain model overfits, "
              "BN − plain (dropout and ghost batches beside)",
              "points", Rule("positive", margin=1.0), reg_cells,
              Published(f"{IOFFE}; {HOFFER}",
                        "BN acts as a regulariser, in some cases eliminating the need for "
                        "Dropout; Hoffer et al.'s Ghost Batch Normalization (statistics over "
                        "small sub-batches) significantly decreases the generalisation gap of "
                        "large-batch training",
                        f"{IMAGENET}, trained to convergence (Hoffer et al.: large batches on "
                        "MNIST, CIFAR and ImageNet); here a 2,000-image slice and batch 32",
                        "supports")),
        Claim("small-batches", "BN struggles with very small batches", "004, closing notes",
              "extremely small batch sizes can still result in unstable training dynamics.",
              "BN's gain over plain at the smallest batch − at batch 32", "points",
              Rule("negative", margin=2.0), small_batch_cells,
              Published('Wu & He 2018, "Group Normalization" (ECCV; abstract); Ioffe 2017, '
                        '"Batch Renormalization" (NeurIPS; abstract)',
                        "BN's error increases rapidly as the batch shrinks: on ResNet-50 "
                        "(ImageNet) at 2 images per GPU, GroupNorm's error is 10.6 points "
                        "lower than BN's; batch renormalisation trains substantially better "
                        "than BN with small or non-i.i.d. minibatches",
                        "convolutional networks on ImageNet (down to 2 images per GPU); here "
                        "an MLP, down to 4", "supports")),
        Claim("confound", "BN itself raises accuracy (the notebooks' confound removed)",
              "000, conclusion (its one experiment)",
              "After Including Batch Normalization it increases the accuracy",
              "validation accuracy at the end, BN − plain with the same activation, init and "
              "standardised pixels", "points",
              Rule("positive", margin=CONFOUND_MARGIN), _base(*SQUARE, "seeds-plain")),
        Claim("cost", "BN costs about the same time", "000, conclusion",
              "it take approx same amount of time as earlier model.",
              "time per epoch in the notebooks' harness (Keras fit on TensorFlow), BN / plain "
              "− 1 (bntui's fused JAX loop beside it)", "%",
              Rule("equivalent", margin=10.0, against="above"), cost_cells),
        Claim("robustness", "BN makes the model robust to a shifted input distribution",
              "003, advantages",
              "Increased robustness: Batch normalization makes the network more robust to "
              "changes in the input distribution, which can help improve its generalization "
              "performance.",
              "accuracy drop from clean to shifted validation images (mean of three fixed "
              "corruptions), plain − BN", "points",
              Rule("positive", margin=1.0), _base(*PAIR),
              Published('Li, Wang, Shi, Liu & Hou 2016, "Revisiting Batch Normalization For '
                        'Practical Domain Adaptation" (AdaBN; arXiv 1603.04779, abstract)',
                        "re-estimating the statistics of every BN layer on the target domain "
                        "(AdaBN), with no new parameters, adapts a trained network to a "
                        "shifted domain and reached state-of-the-art domain adaptation: the "
                        "gain comes from re-estimating, not from BN's fixed statistics",
                        "convolutional networks across image domains (Office, Caltech-Bing); "
                        "here an MLP on Fashion-MNIST under synthetic corruptions", "mixed")),
        Claim("inference", "BN at inference uses the batch's statistics",
              "004, closing notes (potential limitations)",
              "Inference Complexity: During inference, batch normalization requires computing "
              "batch statistics (mean and variance), which can add computational overhead.",
              "largest change of a predicted probability when an image's batch companions "
              "change, inference mode (BN), in decades above float32 rounding (log10 of the "
              "change / 0.01 points)", "decades",
              Rule("positive", margin=1.0), _base(*PAIR),
              Published('Ioffe 2017, "Batch Renormalization: Towards Reducing Minibatch '
                        'Dependence in Batch-Normalized Models" (NeurIPS; abstract)',
                        "in training a BN layer's inputs depend on all the examples of the "
                        "minibatch, and training and inference produce different activations; "
                        "Batch Renormalization makes both give outputs that depend on each "
                        "example alone",
                        "a statement about the method (Inception networks), not a measurement "
                        "of this model", "against")),
        Claim("depth", "BN helps in training deeper networks",
              "001, answer to Q2 (improved gradient flow)",
              "This stabilization of gradients helps in training deeper networks by improving "
              "the flow of gradients through the layers.",
              "final validation accuracy in the deepest stacks, BN − plain (mean of sigmoid "
              "and ReLU)", "points",
              Rule("positive", margin=2.0), deep_cells,
              Published('Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019, "A Mean Field '
                        'Theory of Batch Normalization" (ICLR; abstract)',
                        "BN itself makes gradients explode exponentially in depth, and vanilla "
                        "BN networks without skip connections are not trainable at large depths",
                        "wide fully-connected networks, deeper than these; here stacks of "
                        "8 to 32 layers of 100 units, a few epochs", "mixed")),
        Claim("smoothness", "BN makes the loss landscape smoother (the modern explanation)",
              "003, advantages; 004, closing notes (the nearest sentence: no notebook names "
              "the loss landscape)",
              "The improved stability provided by batch normalization allows for the use of "
              "larger learning rates.",
              "largest change of the gradient along it over step sizes "
              f"{LANDSCAPE_RATES[0]:g}–{LANDSCAPE_RATES[-1]:g}, log10 plain / BN, during training",
              "decades",
              Rule("positive", margin=0.3), _base("plain", "bn"),
              Published(SANTURKAR,
                        "BN makes the optimization landscape significantly smoother, which "
                        "makes the gradients more predictive and stable and allows faster "
                        "training",
                        "VGG networks on CIFAR-10 (and deep linear networks); here a 3-layer "
                        "MLP on Fashion-MNIST, on a fixed probe batch", "supports")),
    )
}  # fmt: skip


def plan(names: list[str], scale: Scale, seed: int) -> list[CellSpec]:
    """Every cell the named claims need, each once, in battery order."""
    seeds = seed_values(seed, scale)
    cells: dict[str, CellSpec] = {}
    for name in names:
        for cell in CLAIMS[name].cells(scale, seeds):
            cells.setdefault(cell.id, cell)
    return list(cells.values())


# A design change (a cell, a quantity, a rule or its margin) is a new design version.
DESIGN_VERSION = 3


def design_digest(names: list[str], scale: Scale, seed: int) -> str:
    """The battery's pre-registration: a SHA-256 of the design version and a canonical dump
    of every claim's quantity, unit and rule and every cell spec, for `names` at `scale`.
    A claims file records it when it starts; a reader recomputes it to check that the rules
    were the ones fixed before anything ran."""
    seeds = seed_values(seed, scale)
    document = {
        "design_version": DESIGN_VERSION,
        "scale": asdict(scale),
        "seed": seed,
        "claims": [
            {
                "name": n,
                "quantity": CLAIMS[n].quantity,
                "unit": CLAIMS[n].unit,
                "rule": asdict(CLAIMS[n].rule),
            }
            for n in names
        ],
        "cells": [asdict(cell) for cell in plan(names, scale, seed)],
        "seeds": list(seeds),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
