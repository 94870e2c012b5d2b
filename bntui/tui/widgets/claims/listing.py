"""The Claims tab's list (a row per claim: its name, verdict word and interval, as
`bntui.claims.texts` words them) and its status lines (scale, seeds, cells, progress, ETA).

Words carry the meaning and colour only repeats it: a verdict has a mark of its own
(✓ ✗ ?), the selected row a ▶ and reverse video. Under NO_COLOR nothing is coloured or
dimmed at all (`looks`): Textual would turn each colour into a grey, and a red one into a
grey barely above the background.
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from bntui.claims.battery import CLAIMS
from bntui.claims.measures import Measure
from bntui.claims.texts import measure_text, status_word
from bntui.claims.view import BatteryView
from bntui.core.text import clean
from bntui.tui.widgets.text_view import TextView

# A red light enough to read on the dark background, also as the grey NO_COLOR makes of it
# where a caller draws a mark without asking for NO_COLOR: on #1b1b1b the theme's red
# (#f4005f) has a contrast of 4.1:1, and 1.5:1 as that grey; this one 6.3:1 and 5.2:1.
RED = "#ff6e6e"
MARKS = {
    "supported": ("✓", "bold green"),
    "not supported": ("✗", f"bold {RED}"),
    "no effect": ("=", "bold"),
    "too few seeds": ("?", "bold yellow"),
    "failed": ("!", f"bold {RED}"),
    "running": ("▸", "cyan"),
    "pending": ("·", "dim"),
}
NAME_WIDTH, WORD_WIDTH = 15, 20
# Wide enough for the claim's title after the interval, and the least room it needs there.
TITLE_FROM = 110
TITLE_ROOM = 24
# Narrower than this, the verdicts' column closes up so the intervals keep their digits.
NARROW = 70
# The short forms of the notes `measure_text` puts after an interval, for a narrow row
# (its view below says them whole).
SHORT_NOTES = {
    " (a bound, not a measurement: see the notes)": " (a bound)",
    " (both ends are bounds: nothing follows)": " (bounds)",
    " (no spread: every seed gave the same value)": " (no spread)",
}


def looks(style: str, no_color: bool) -> Style:
    """`style` as drawn: under NO_COLOR only its bold, italic, underline and reverse (no
    colour, no dimming), so that what it marks reads by its glyph and words alone."""
    parsed = Style.parse(style)
    if not no_color:
        return parsed
    return Style(
        bold=parsed.bold, italic=parsed.italic, underline=parsed.underline, reverse=parsed.reverse
    )


def mark(found: Measure, no_color: bool = False) -> tuple[str, Style]:
    """The verdict's (or the claim's state's) mark and style (without colour under
    NO_COLOR)."""
    symbol, style = MARKS[found.verdict or found.status]
    return symbol, looks(style, no_color)


def result_text(found: Measure) -> str:
    """The interval of a finished claim, the first error of a failed one, else nothing."""
    if found.status == "done":
        return measure_text(found)
    if found.status == "failed":
        return clean(found.errors[0], 200) if found.errors else "failed"
    return ""


def fitted_result(found: Measure, room: int) -> str:
    """The claim's result in `room` columns where it can be: a note after the interval
    gives way to its short form, then the seed count, the note, the unit's word; the
    interval's digits last."""
    text = result_text(found)
    if len(text) <= room or found.status != "done":
        return text
    for note, short in SHORT_NOTES.items():
        text = text.replace(note, short)
    if len(text) > room:
        text = re.sub(r" \(n=\d+\)", "", text)
    if len(text) > room:  # the view below says the notes whole
        text = re.sub(r" \([^()]*\)$", "", text)
    if len(text) > room:  # the unit's word, as the header and the view below say it
        text = re.sub(r"^(\S+) [a-z]+ \[", r"\1 [", text)
    return text


def claim_row(found: Measure, selected: bool, width: int, no_color: bool = False) -> Text:
    """One claim's row: ▶ when selected, name, mark and status word, interval (and its
    title where the width allows). Where the row is narrow, the verdict's column closes up
    and the interval's notes shorten before anything is cut."""
    symbol, style = mark(found, no_color)
    row = Text(no_wrap=True, overflow="ellipsis", style="reverse" if selected else "")
    row.append("▶ " if selected else "  ", "bold")
    row.append(f"{found.claim:<{NAME_WIDTH}} ", "bold")
    row.append(f"{symbol} ", style)
    word = status_word(found)
    row.append(f"{word:<{WORD_WIDTH if width >= NARROW else len(word)}} ", style)
    row.append(fitted_result(found, width - len(row)))
    return row


def with_titles(rows: list[Text], names: list[str], width: int, no_color: bool) -> None:
    """Each claim's title in a column of its own after the longest row, two spaces clear,
    where the width leaves it room (`TITLE_ROOM`); the header's first row says "the claim"."""
    at = max(len(row) for row in rows) + 2
    if width < TITLE_FROM or width - at < TITLE_ROOM:
        return
    titles = ["the claim", *(CLAIMS[name].title for name in names)]
    for row, title in zip(rows, titles):
        row.pad_right(at - len(row))
        row.append(title, looks("dim", no_color))


class ClaimList(Widget, can_focus=True):
    """Every claim of the battery, one row each; up/down (j/k) select, Enter opens."""

    DEFAULT_CSS = """
    ClaimList { height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    ClaimList:focus { background: $boost; }
    """
    BINDINGS = [
        # The tooltips are what the help (?) says of each key, in bntui's words.
        Binding("up,k", "move(-1)", "Select", key_display="↑↓", tooltip="the claim above"),
        Binding("down,j", "move(1)", "Down", show=False, tooltip="the claim below"),
        Binding("home,g", "move(-99)", "First", show=False, tooltip="the first claim"),
        Binding("end,G", "move(99)", "Last", show=False, tooltip="the last claim"),
        Binding("enter,right", "open", "Open", tooltip="open the claim's view"),
    ]

    index: reactive[int] = reactive(0)

    class Selected(Message):
        """The selection moved to another claim."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Opened(Message):
        """Enter (or →) on a claim: show its view."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, names: list[str], id: str | None = None) -> None:
        super().__init__(id=id)
        self.names = names
        self.found: list[Measure] = []

    @property
    def selected(self) -> str:
        """The name of the selected claim."""
        return self.names[self.index]

    def show(self, found: list[Measure]) -> None:
        """Redraw from the claims' latest measures."""
        if found != self.found:
            self.found = found
            self.refresh(layout=True)

    def render(self) -> Text:
        """A header row, then a row per claim."""
        width, no_color = self.content_size.width, self.app.no_color
        header = Text(no_wrap=True, overflow="ellipsis", style=looks("dim", no_color))
        header.append(f"  {'claim':<{NAME_WIDTH}} {'verdict':<{WORD_WIDTH + 2}} ")
        header.append("mean [95% interval over paired seeds]")
        rows = [header]
        rows += [
            claim_row(found, i == self.index, width, no_color) for i, found in enumerate(self.found)
        ]
        with_titles(rows, [found.claim for found in self.found], width, no_color)
        return Text("\n", no_wrap=True).join(rows)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        """One row per claim and the header."""
        return len(self.names) + 1

    def watch_index(self) -> None:
        """The selection moved: redraw, and say which claim it is on."""
        self.refresh()
        self.post_message(self.Selected(self.selected))

    def action_move(self, step: int) -> None:
        """Select the claim `step` rows down (up when negative), within the list."""
        self.index = max(0, min(len(self.names) - 1, self.index + step))

    def action_open(self) -> None:
        """Open the selected claim's view."""
        self.post_message(self.Opened(self.selected))

    def on_click(self, event: events.Click) -> None:
        """A click selects the row under it; a second click opens it."""
        row = event.y - 1
        if 0 <= row < len(self.names):
            if row == self.index:
                self.action_open()
            self.index = row


def progress_bar(fraction: float, width: int, no_color: bool = False) -> Text:
    """A text bar of `width` cells: █ done, ░ to do (shapes, not colours)."""
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    done, to_do = looks("green", no_color), looks("dim", no_color)
    return Text("█" * filled, done) + Text("░" * (width - filled), to_do)


def status_lines(
    view: BatteryView, mode: str, left: str, path: str, message: str, no_color: bool = False
) -> Text:
    """Two lines: the mode and the battery (scale, claims, seeds, workers); the progress
    bar, cells done/total, what runs, the time left (`left`), then the file or a message."""
    claims, scale = view.claims, view.claims.battery_scale
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f" {mode} ", "reverse bold")
    seeds = f"seeds {claims.seed}–{claims.seed + scale.seeds - 1}"
    text.append(f" {scale.name} scale · {len(claims.claims)} claims · {seeds}")
    text.append(f" · {claims.workers} worker{'s' if claims.workers != 1 else ''}")
    if claims.device:
        text.append(f" · {clean(claims.device, 60)}")
    text.append("\n")
    text.append_text(progress_bar(view.fraction(), 16, no_color))
    text.append(f" {view.fraction():4.0%} · {view.cells_done}/{view.total} cells", "bold")
    if view.cells_failed:
        text.append(f" · {view.cells_failed} failed", looks(f"bold {RED}", no_color))
    if view.running:
        text.append(f" · {len(view.running)} running")
    if left:
        text.append(f" · {left}")
    if message:
        text.append(f" · {clean(message, 300)}", looks("bold yellow", no_color))
    elif path:
        text.append(f" · {clean(path, 200)}")
    return text


class BatteryStatus(TextView):
    """The two status lines above the list."""

    DEFAULT_CSS = "BatteryStatus { height: 2; background: $panel; padding: 0 1; }"

    def show(self, view: BatteryView, mode: str, left: str, path: str, message: str) -> None:
        """Redraw (only if something changed)."""
        self.show_text(status_lines(view, mode, left, path, message, self.app.no_color))
