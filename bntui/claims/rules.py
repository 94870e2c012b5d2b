"""Decision rules, fixed before anything is measured, and the verdict they give.

A claim predicts the sign of its paired per-seed quantity (positive or negative), or, for
"about the same", that it lies within ±margin of zero. Every rule also names the smallest
effect that matters (`margin`, in the quantity's unit). Three one-sided exact sign-flip tests
are run on the per-seed values (`bntui.stats.significance`), each Holm-corrected across the
battery's claims, at α = 0.05:

- a sign rule is **supported** when the effect is significantly on the predicted side; **not
  supported** when it is significantly on the other side; **no effect** when it is
  significantly within ±margin (two one-sided tests); otherwise **too few seeds** to tell, with
  about how many seeds would be needed to detect an effect of `margin`;
- the equivalence rule is **supported** when the effect is significantly within ±margin, **not
  supported** when it is significantly beyond it (either side), otherwise **too few seeds**.

The 95% t interval is reported beside the tests; it does not decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bntui.stats.significance import ALPHA, Alternative, sign_flip_p

Verdict = Literal["supported", "not supported", "no effect", "too few seeds"]
TestName = Literal["claim", "against", "null"]
TEST_NAMES: tuple[TestName, ...] = ("claim", "against", "null")


@dataclass(frozen=True)
class Significance:
    """A claim's three one-sided p-values: for the claim, against it, and for no effect
    (within ±margin); `adjusted` holds the same after Holm's correction across the battery."""

    raw: dict[str, float | None]
    adjusted: dict[str, float | None] = field(default_factory=dict)

    def passes(self, name: TestName) -> bool:
        """True when test `name`'s adjusted p-value is below α."""
        p = self.adjusted.get(name)
        return p is not None and p < ALPHA


@dataclass(frozen=True)
class Rule:
    """What the claim predicts of its quantity, and the smallest effect that matters."""

    expects: Literal["positive", "negative", "equivalent"]
    margin: float
    # For an equivalence: the side beyond the margin that would refute it, stated in
    # advance ("above": BN's extra work can only make it slower); "either" tests both and
    # pays for it (twice the p-value).
    against: Literal["above", "below", "either"] = "either"

    def text(self, unit: str = "") -> str:
        """The rule in words, as the report and the Claims tab state it."""
        bound = f"±{self.margin:g}{'' if unit in ('', '%') else ' '}{unit}"
        if unit == "×":  # a log10 ratio's margin, as the ratios it spans
            bound = f"×{10**-self.margin:.2f}–×{10**self.margin:.2f}"
        tests = (
            f"one-sided exact sign-flip tests over the paired seeds, Holm-corrected across "
            f"the battery, α = {ALPHA:g}"
        )
        if self.expects == "equivalent":
            beyond = {"above": f"above +{bound[1:]}", "below": f"below -{bound[1:]}"}.get(
                self.against, "beyond it"
            )
            return (
                f"supported if the effect is significantly within {bound}; not supported if "
                f"significantly {beyond}; otherwise too few seeds ({tests})"
            )
        side, other = ("above", "below") if self.expects == "positive" else ("below", "above")
        zero = "×1" if unit == "×" else "0"
        return (
            f"supported if the effect is significantly {side} {zero}; not supported if "
            f"significantly {other} {zero}; no effect if significantly within {bound} (the "
            f"smallest effect that matters); otherwise too few seeds ({tests})"
        )

    def tests(self, values: Sequence[float | None]) -> Significance:
        """The three one-sided p-values of the per-seed `values` (not yet adjusted)."""
        if self.expects == "equivalent":
            within = _within(values, self.margin)
            above = sign_flip_p(values, "greater", shift=self.margin)
            below = sign_flip_p(values, "less", shift=-self.margin)
            if self.against == "above":
                beyond = above
            elif self.against == "below":
                beyond = below
            else:
                beyond = None if above is None or below is None else min(1.0, 2 * min(above, below))
            return Significance({"claim": within, "against": beyond, "null": None})
        claim: Alternative = "greater" if self.expects == "positive" else "less"
        against: Alternative = "less" if self.expects == "positive" else "greater"
        return Significance(
            {
                "claim": sign_flip_p(values, claim),
                "against": sign_flip_p(values, against),
                "null": _within(values, self.margin),
            }
        )

    def verdict(self, tests: Significance) -> Verdict:
        """The verdict the adjusted tests give."""
        if tests.passes("claim"):
            return "supported"
        if tests.passes("against"):
            return "not supported"
        if tests.passes("null"):
            return "no effect"
        return "too few seeds"


def _within(values: Sequence[float | None], margin: float) -> float | None:
    """Two one-sided tests: the p-value that the mean lies within ±margin."""
    above_low = sign_flip_p(values, "greater", shift=-margin)
    below_high = sign_flip_p(values, "less", shift=margin)
    if above_low is None or below_high is None:
        return None
    return max(above_low, below_high)
