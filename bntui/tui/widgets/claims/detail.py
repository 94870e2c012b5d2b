"""One claim's view: what the notebooks say, how the battery tests it, what it found (the
verdict, its interval, the details, notes and errors), the claim's chart, and what it means
for a learner. Every figure and word comes from `bntui.claims.texts` and a `Measure`.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from bntui.claims.battery import CLAIMS, Scale
from bntui.claims.measures import Measure
from bntui.claims.texts import (
    design,
    detail_text,
    measure_text,
    number,
    paragraph,
    published_text,
    significance_text,
    status_word,
)
from bntui.core.text import clean
from bntui.tui.widgets.claims.chart import ClaimChart
from bntui.tui.widgets.claims.listing import RED, looks, mark, result_text
from bntui.tui.widgets.hinted_scroll import HintedScroll


def section(heading: str, *lines: Text | str) -> Text:
    """A bold heading, then its lines."""
    text = Text()
    text.append(heading, "bold underline")
    for line in lines:
        text.append("\n")
        text.append(line) if isinstance(line, str) else text.append_text(line)
    return text


def head_text(found: Measure, no_color: bool = False) -> Text:
    """The verdict, its interval and the test that decided it (or where the claim is), then
    the notebook's sentence it tests."""
    claim = CLAIMS[found.claim]
    symbol, style = mark(found, no_color)
    text = Text()
    text.append(f"{symbol} {status_word(found)}", style)
    if found.status == "done":
        text.append(f"   {measure_text(found)}", "bold")
        text.append(f"\n{significance_text(found)}")
    elif found.status == "pending":
        text.append(f"   none of its {found.cells_total} cells has finished", "dim")
    text.append(f"\nNotebook {claim.notebook} says:\n", "dim")
    text.append(f"“{claim.quote}”", "italic")
    return text


def test_text(found: Measure) -> Text:
    """What is measured, and the rule that was stated before measuring it."""
    claim = CLAIMS[found.claim]
    return section(
        "The test",
        Text.assemble(
            ("Measured: ", "bold"), claim.quantity, f" ({claim.unit})" if claim.unit else ""
        ),
        Text.assemble(("Rule: ", "bold"), claim.rule.text(claim.unit)),
    )


def found_text(found: Measure, no_color: bool = False) -> Text:
    """The secondary figures, the notes and, for a failed claim, its errors."""
    lines: list[Text | str] = []
    if found.seeds:
        unit = CLAIMS[found.claim].unit
        values = ", ".join(
            f"{seed}: {number(v, unit)}" for seed, v in zip(found.seeds, found.values)
        )
        lines.append(Text.assemble(("Seed by seed: ", "bold"), values))
    for detail in found.details:
        lines.append(f"• {clean(detail_text(detail), 200)}")
    for note in found.notes:
        lines.append(Text(f"note: {clean(note, 300)}", "dim"))
    for error in found.errors:
        lines.append(Text(f"error: {clean(error, 500)}", looks(f"bold {RED}", no_color)))
    if not lines:
        lines.append(Text(waiting(found), "dim"))
    return section("Details", *lines)


def waiting(found: Measure) -> str:
    """What a claim without results yet is waiting for."""
    if found.status == "failed":
        return result_text(found)
    return f"{found.cells_done} of {found.cells_total} cells finished; details come with the last"


class ClaimDetail(HintedScroll):
    """The selected claim's view, scrolled with ↑↓ (j/k) and PgUp/PgDn."""

    DEFAULT_CSS = """
    ClaimDetail { height: 1fr; border-top: solid $primary-darken-2; padding: 0 1; }
    ClaimDetail:focus { border-top: solid $accent; }
    ClaimDetail > Static { margin-bottom: 1; }
    ClaimDetail > ClaimChart { margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("k", "scroll_up", "Up", show=False),
        Binding("j", "scroll_down", "Down", show=False),
    ]

    def __init__(self, scale: Scale, id: str | None = None) -> None:
        super().__init__(id=id)
        self.scale = scale
        self.shown: Measure | None = None

    def compose(self) -> ComposeResult:
        """The sections, with the chart after the result."""
        yield Static(id="claim-head")
        yield Static(id="claim-test")
        yield ClaimChart(id="claim-chart")
        yield Static(id="claim-found")
        yield Static(id="claim-meaning")
        yield Static(id="claim-design")

    def show(self, found: Measure) -> None:
        """Draw claim `found` (nothing is redone when it has not changed)."""
        if found == self.shown:
            return
        if self.shown is not None and self.shown.claim != found.claim:
            self.scroll_home(animate=False)
        self.shown = found
        claim = CLAIMS[found.claim]
        self.border_title = f"{claim.name} · {claim.title}"
        no_color = self.app.no_color
        self.query_one("#claim-head", Static).update(head_text(found, no_color))
        self.query_one("#claim-test", Static).update(test_text(found))
        self.query_one(ClaimChart).show(found)
        self.query_one("#claim-found", Static).update(found_text(found, no_color))
        meaning = section(
            "What it means",
            paragraph(found, self.scale),
            "",
            published_text(found.claim, found.verdict),
        )
        self.query_one("#claim-meaning", Static).update(meaning)
        how = section("How it is tested", design(found.claim, self.scale))
        self.query_one("#claim-design", Static).update(how)
        self.call_after_refresh(self.show_hint)
