"""The Claims list at 80 and 60 columns: the verdict and the effect are read whole; what
gives way first is the title, then the interval's notes, the seed count and the unit's word."""

from __future__ import annotations

from pathlib import Path

import pytest

from bntui.claims.claimfile import load_claims
from bntui.claims.measures import measures
from bntui.claims.texts import status_word
from bntui.tui.widgets.claims.chart import levels_text
from bntui.tui.widgets.claims.listing import claim_row, result_text

QUICK = Path(__file__).parent.parent.parent / "sample_runs" / "claims-quick.json"


@pytest.mark.parametrize("width", [78, 58])
def test_rows_keep_the_verdict_and_the_effect(width: int) -> None:
    found = measures(load_claims(QUICK))
    assert any(len(result_text(m)) + 41 > 78 for m in found)  # a row that would be cut
    for m in found:
        row = claim_row(m, False, width).plain
        assert status_word(m) in row
        mean = result_text(m).split()[0]
        assert row.split(status_word(m))[1].split()[0] == mean
        if width == 78:  # at 80 columns nothing is cut: the interval is whole
            assert len(row) <= width and "]" in row, row


def test_bars_from_zero_give_their_levels_and_differences_in_words() -> None:
    """The confound chart runs from 0 to ~90: its 0.4-point differences are given as text."""
    found = {m.claim: m for m in measures(load_claims(QUICK))}
    confound = found["confound"].figure
    assert confound is not None and confound.from_floor
    words = levels_text(confound)
    assert "bars from zero hide small differences" in words
    assert "BN hidden 87.32 (+0.05) · BN 87.63 (+0.31)" in words
    convergence = found["convergence"].figure
    assert convergence is not None and levels_text(convergence) == ""  # its axis is cut
