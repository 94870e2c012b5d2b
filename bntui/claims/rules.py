"""Decision rules, stated before anything is measured, and the verdict they give.

A claim predicts the sign of its quantity (positive or negative), or, for "about the same",
that it lies within a margin of zero. The verdict comes from the paired 95% interval alone:

- sign rules: supported when the whole interval lies on the predicted side of zero, not
  supported when it lies wholly on the other side, inconclusive when it includes zero;
- the equivalence rule: supported when the whole interval lies within ±margin, not
  supported when it lies wholly outside, inconclusive when it straddles a margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bntui.stats.intervals import Interval

Verdict = Literal["supported", "not supported", "inconclusive"]


@dataclass(frozen=True)
class Rule:
    """What the claim predicts of its quantity."""

    expects: Literal["positive", "negative", "equivalent"]
    margin: float = 0.0

    def text(self, unit: str = "") -> str:
        """The rule in words, as the report and the Claims tab state it."""
        if self.expects == "equivalent":
            bound = f"±{self.margin:g}{unit}"
            return (
                f"supported if the whole 95% interval lies within {bound}; not supported if "
                f"it lies wholly outside {bound}; otherwise inconclusive"
            )
        side, other = ("above", "below") if self.expects == "positive" else ("below", "above")
        return (
            f"supported if the whole 95% interval lies {side} 0; not supported if it lies "
            f"wholly {other} 0; inconclusive if it includes 0"
        )

    def verdict(self, interval: Interval | None) -> Verdict:
        """The verdict the interval gives; inconclusive without an interval (n < 2)."""
        if interval is None or interval.low is None or interval.high is None:
            return "inconclusive"
        low, high = interval.low, interval.high
        if self.expects == "equivalent":
            if -self.margin <= low and high <= self.margin:
                return "supported"
            if low > self.margin or high < -self.margin:
                return "not supported"
            return "inconclusive"
        if self.expects == "negative":
            low, high = -high, -low
        if low > 0:
            return "supported"
        if high < 0:
            return "not supported"
        return "inconclusive"
