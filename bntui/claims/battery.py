"""The battery: nine claims from the seed notebooks, each with its design (the cells it
trains), the quantity it measures, its pre-stated decision rule and the notebook sentence
it tests. Two sizes: `quick` (slices, 8 seeds) and `full` (real data, 10 seeds).

The controlled pair, used wherever a claim is about BN alone, differs only in the BN
layers: ReLU and glorot_uniform in both (the notebooks' BN model, and the same model
without its BN layers). The notebooks' own plain model (LeakyReLU, he_normal) appears only
in the confound claim.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from bntui.claims.cells import DEEP_LAYERS, LANDSCAPE_RATES, Activation, CellSpec
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
    target: float
    # Half a decade apart, up to a rate no plain MLP trains at (so BN's limit is seen too).
    lr_grid: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    init_scales: tuple[float, ...] = (0.1, 1.0, 10.0)
    # Not 2: BN over two examples outputs about ±γ + β whatever the inputs, a foregone result.
    batch_sizes: tuple[int, ...] = (4, 8, 16, 32)
    # The deep stacks of the gradients claim: their depths and activations.
    depths: tuple[int, ...] = (8, 16, 32)
    deep_activations: tuple[Activation, ...] = ("sigmoid", "relu")


SCALES = {
    "quick": Scale("quick", seeds=8, base_train=20_000, valid=2_000, base_epochs=8,
                   sweep_train=8_000, sweep_epochs=3, cost_train=55_000, target=0.80),
    # For tests only (`--scale tiny`, hidden): every design in seconds, nothing to conclude.
    "tiny": Scale("tiny", seeds=2, base_train=512, valid=256, base_epochs=2, sweep_train=256,
                  sweep_epochs=1, cost_train=512, target=0.5, lr_grid=(0.01, 1.0, 3.0),
                  batch_sizes=(4, 32, 64), depths=(4, 8)),
    "full": Scale("full", seeds=10, base_train=55_000, valid=5_000, base_epochs=10,
                  sweep_train=20_000, sweep_epochs=5, cost_train=55_000, target=0.85),
}  # fmt: skip

# Validation accuracy this many times an epoch in the shared cells; their end point is the
# mean of the last epoch's evaluations.
BASE_EVALS = 4
# The learning rate of every cell but the learning-rate grid and the batch sizes.
BASE_RATE = 0.01
# Small batches: the rate scales with the batch (linear scaling rule) around this batch.
RATE_BATCH = 32
# The noisy BN arm's amount n: each step, a unit's output × U(1 − n, 1 + n) + U(−n, n).
BN_NOISE = 0.5
# The controlled pair's shared cells measure the loss landscape (claim smoothness) at the
# start and at this many minus one evenly spaced epoch ends.
LANDSCAPE_POINTS = 4


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
    """The shared cell of convergence, covariate shift, regularisation and the confound."""
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
    """Both models at each rate of the grid; everything else fixed."""
    return [
        replace(_sweep(f"lr/{key}/{rate_label(rate)}", key, scale, seeds), learning_rate=rate)
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
        )
        for size in scale.batch_sizes
        for key in ("plain", "bn")
    ]


def cost_cells(scale: Scale, seeds: tuple[int, ...]) -> list[CellSpec]:
    """Both models timed alone, each seed on its own, 4 epochs (the first compiles; the
    fastest of the other three counts)."""
    return [
        replace(
            _sweep(f"cost/{key}", key, scale, seeds),
            train_size=scale.cost_train,
            epochs=4,
            timed=True,
        )
        for key in ("plain", "bn")
    ]


def _base(*keys: str) -> Callable[[Scale, tuple[int, ...]], list[CellSpec]]:
    return lambda scale, seeds: [base_cell(key, scale, seeds) for key in keys]


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
              "steps BN saves to the target validation accuracy, (plain − BN) / plain", "%",
              Rule("positive", margin=10.0), _base(*SQUARE),
              Published(f"{IOFFE}; {BJORCK}",
                        "BN reached the original network's accuracy in 14 times fewer training "
                        "steps, with a higher learning rate among other changes; Bjorck et al. "
                        "trace the speed-up mainly to the larger learning rates BN allows",
                        f"{IMAGENET}; here both models share one learning rate", "supports")),
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
              "spread of final validation accuracy across init scales, plain − BN", "points",
              Rule("positive", margin=2.0), init_cells,
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
              "generalisation gap (train accuracy in inference mode − validation), plain − BN",
              "points", Rule("positive", margin=1.0), _base("plain", "bn"),
              Published(IOFFE, "BN acts as a regulariser, in some cases eliminating the need "
                        "for Dropout", f"{IMAGENET}, trained to convergence", "supports")),
        Claim("small-batches", "BN struggles with very small batches", "004, closing notes",
              "extremely small batch sizes can still result in unstable training dynamics.",
              "BN's gain over plain at the smallest batch − at batch 32", "points",
              Rule("negative", margin=2.0), batch_cells,
              Published('Wu & He 2018, "Group Normalization" (ECCV; abstract)',
                        "BN's error increases rapidly as the batch shrinks: on ResNet-50 "
                        "(ImageNet) at 2 images per GPU, GroupNorm's error is 10.6 points "
                        "lower than BN's",
                        "convolutional networks on ImageNet; here an MLP", "supports")),
        Claim("confound", "BN itself raises accuracy (the notebooks' confound removed)",
              "000, conclusion (its one experiment)",
              "After Including Batch Normalization it increases the accuracy",
              "validation accuracy at the end, BN − plain with the same activation, init and "
              "standardised pixels", "points",
              Rule("positive", margin=1.0), _base(*SQUARE, "seeds-plain")),
        Claim("cost", "BN costs about the same time", "000, conclusion",
              "it take approx same amount of time as earlier model.",
              "time per epoch in bntui's fused JAX training loop, BN / plain − 1", "%",
              Rule("equivalent", margin=10.0, against="above"), cost_cells),
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
