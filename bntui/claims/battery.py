"""The battery: the seed notebooks' claims, each with the cells it trains (its design, from
`bntui.claims.designs`), the quantity it measures, its pre-stated decision rule, the notebook
sentence it tests and the published experiment beside it; the plan of a battery and its
design digest. The designs' names are re-exported here (`__all__`): the battery is what the
rest of bntui reads a design from.

The controlled pair, used wherever a claim is about BN alone, differs only in the BN
layers (and the plain model's pixels standardised as BN's first BN standardises them):
ReLU and glorot_uniform in both. The notebooks' own plain model (LeakyReLU, he_normal)
appears only in the confound claim.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

from bntui.claims.cells import LANDSCAPE_RATES, CellSpec
from bntui.claims.designs import (
    BASE_EVALS,
    BASE_RATE,
    BN_NOISE,
    CONFOUND_MARGIN,
    INIT_SCHEMES,
    LANDSCAPE_POINTS,
    LR_EVALS,
    MODELS,
    PAIR,
    RATE_BATCH,
    REG_ARMS,
    REG_DROPOUT,
    REG_GHOST,
    REG_RATE,
    REMEDIES,
    SCALES,
    SPEEDUP_MARGIN,
    SQUARE,
    Scale,
    base_cell,
    batch_cells,
    convergence_cells,
    cost_cells,
    deep_cells,
    deep_id,
    init_all_cells,
    init_cells,
    init_scheme_cells,
    lr_cells,
    rate_label,
    reg_cells,
    remedy_cells,
    scheme_id,
    seed_values,
    shared_cells,
    small_batch_cells,
)
from bntui.claims.rules import Rule

__all__ = [
    "BASE_EVALS",
    "BASE_RATE",
    "BN_NOISE",
    "CLAIMS",
    "CONFOUND_MARGIN",
    "DESIGN_VERSION",
    "INIT_SCHEMES",
    "LANDSCAPE_POINTS",
    "LR_EVALS",
    "MODELS",
    "PAIR",
    "RATE_BATCH",
    "REG_ARMS",
    "REG_DROPOUT",
    "REG_GHOST",
    "REG_RATE",
    "REMEDIES",
    "SCALES",
    "SPEEDUP_MARGIN",
    "SQUARE",
    "Claim",
    "Published",
    "Scale",
    "base_cell",
    "batch_cells",
    "convergence_cells",
    "cost_cells",
    "deep_cells",
    "deep_id",
    "design_digest",
    "init_all_cells",
    "init_cells",
    "init_scheme_cells",
    "lr_cells",
    "plan",
    "rate_label",
    "reg_cells",
    "remedy_cells",
    "scheme_id",
    "seed_values",
    "small_batch_cells",
]


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
              Rule("positive", margin=1.0), shared_cells("plain", "bn", "noisy-bn"),
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
              Rule("positive", margin=CONFOUND_MARGIN), shared_cells(*SQUARE, "seeds-plain")),
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
              Rule("positive", margin=1.0), shared_cells(*PAIR),
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
              Rule("positive", margin=1.0), shared_cells(*PAIR),
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
              Rule("positive", margin=0.3), shared_cells("plain", "bn"),
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
