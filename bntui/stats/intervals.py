"""Confidence intervals over seeds: Student's t, from scipy, for a mean and a paired mean.

Seed k of the plain model and seed k of the BN model share their data order, so BN's gain
is judged on the paired differences `bn_k − plain_k`: their mean, and the t interval with
n − 1 degrees of freedom. With one seed (or one pair) there is no spread to estimate, and
no interval is given.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean over `n` values with its two-sided t interval (None when n < 2)."""

    mean: float
    low: float | None
    high: float | None
    n: int
    confidence: float = CONFIDENCE

    @property
    def has_interval(self) -> bool:
        """True when there were at least two values to take an interval from."""
        return self.low is not None and self.high is not None

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        if self.low is None or self.high is None:
            return False
        return self.low > 0 or self.high < 0

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (×100 for percentage points)."""

        def times(value: float | None) -> float | None:
            return None if value is None else value * factor

        low, high = times(self.low), times(self.high)
        if factor < 0:
            low, high = high, low
        return Interval(self.mean * factor, low, high, self.n, self.confidence)


def finite(values: Sequence[float | None]) -> list[float]:
    """The values that are numbers (no None, NaN or infinity)."""
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def mean_interval(
    values: Sequence[float | None], confidence: float = CONFIDENCE
) -> Interval | None:
    """The mean of the finite `values` with its t interval; None when there are none."""
    numbers = finite(values)
    n = len(numbers)
    if n == 0:
        return None
    mean = sum(numbers) / n
    if n < 2:
        return Interval(mean, None, None, n, confidence)
    sem = statistics.stdev(numbers) / math.sqrt(n)
    if sem == 0.0:  # every value the same: the interval is that value
        return Interval(mean, mean, mean, n, confidence)
    half = t_quantile(confidence, n - 1) * sem
    return Interval(mean, mean - half, mean + half, n, confidence)


def t_quantile(confidence: float, freedom: int) -> float:
    """The two-sided Student t quantile: `scipy.stats.t.ppf((1 + confidence) / 2, freedom)`.

    From `scipy.special` (what `scipy.stats` calls), imported here, when an interval is
    first needed: `scipy.stats` takes 1.5 s to import, which every dashboard start would pay.
    """
    from scipy.special import stdtrit

    return float(stdtrit(freedom, (1 + confidence) / 2))


def paired_interval(
    plain: Sequence[float | None], bn: Sequence[float | None], confidence: float = CONFIDENCE
) -> Interval | None:
    """BN − plain over the seeds where both have a value: the mean paired difference and
    its t interval (n − 1 degrees of freedom)."""
    differences = [
        b - a
        for a, b in zip(plain, bn)
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
    ]
    return mean_interval(differences, confidence)
