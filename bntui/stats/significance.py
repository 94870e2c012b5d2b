"""Significance over paired seeds: exact sign-flip p-values, Holm's correction across a family
of tests, and how many seeds a test would need.

A seed's paired value (BN's figure − plain's, both trained on that seed's data order) is
symmetric about zero when BN makes no difference, whatever its distribution: so flipping the
signs of the n values gives the 2^n equally likely outcomes under that null, and the p-value is
exact (`scipy.stats.permutation_test`, every sign assignment). It assumes nothing of normality,
which the t interval beside it does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from bntui.stats.intervals import finite

ALPHA = 0.05
# Exact up to 2^16 sign assignments; past that, a fixed-seed Monte Carlo of as many.
EXACT_UP_TO = 16

Alternative = Literal["greater", "less"]


def sign_flip_p(
    values: Sequence[float | None], alternative: Alternative, shift: float = 0.0
) -> float | None:
    """The one-sided p-value that the mean of `values` exceeds `shift` ("greater") or falls
    below it ("less"), by flipping the signs of `values − shift`; None with no value."""
    numbers = [v - shift for v in finite(values)]
    if not numbers:
        return None
    from scipy.stats import permutation_test  # deferred: scipy.stats costs 1.5 s to import

    exact = len(numbers) <= EXACT_UP_TO
    result = permutation_test(
        (np.asarray(numbers),),
        np.mean,
        permutation_type="samples",
        alternative=alternative,
        n_resamples=np.inf if exact else 2**EXACT_UP_TO,
        rng=np.random.default_rng(0),
    )
    return float(result.pvalue)


def smallest_p(n: int) -> float:
    """The smallest one-sided sign-flip p-value n seeds can give: every seed on one side."""
    return 0.5**n


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment across the family: each adjusted p-value is what it must
    stay under α for the whole family's error rate to stay under α. A missing p-value (a test
    not yet run) counts as 1, so the family's size is fixed before anything is measured."""
    m = len(p_values)
    filled = [1.0 if p is None else p for p in p_values]
    order = sorted(range(m), key=lambda i: filled[i])
    adjusted: list[float | None] = [None] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * filled[index]))
        adjusted[index] = None if p_values[index] is None else running
    return adjusted


def seeds_needed(values: Sequence[float | None], effect: float, alpha: float = ALPHA) -> int | None:
    """About how many paired seeds a one-sided test at level `alpha` would need to detect a
    mean of `effect` with 80% power, given the spread of `values` (normal approximation);
    None when the values have no spread to go on."""
    numbers = finite(values)
    if len(numbers) < 2 or effect <= 0:
        return None
    mean = sum(numbers) / len(numbers)
    sd = math.sqrt(sum((v - mean) ** 2 for v in numbers) / (len(numbers) - 1))
    if sd == 0:
        return None
    from scipy.special import ndtri  # deferred, as in intervals.t_quantile

    z = float(ndtri(1 - alpha)) + float(ndtri(0.8))
    by_spread = math.ceil((z * sd / effect) ** 2)
    # A sign-flip test cannot reach alpha with fewer seeds than this, however clear the effect.
    by_resolution = math.ceil(math.log2(1 / alpha))
    return max(by_spread, by_resolution)
