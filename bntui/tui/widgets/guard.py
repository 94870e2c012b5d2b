"""The dashboard's last net: no character a terminal would act on is ever drawn.

Text from files and workers is cleaned when it is read (`bntui.record.bounds`, `bntui.core.events`),
so the widgets only hold marks such as `^[` or `<U+202E>`. This line filter sees every line
of every widget (panels, tables, borders, notifications, the footer) just before it goes to
the terminal: if anything raw slipped through anyway, say a path in a notification, it is
dropped there, keeping the line's width, and counted, so tests can check it never had to.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from bntui.core.text import UNSAFE


def _blank(match: re.Match[str]) -> str:
    # Same width as what Rich measured: zero-width controls vanish, the rest become �.
    return "\ufffd" * cell_len(match.group())


class TerminalGuard(LineFilter):
    """Drops raw control, bidi and surrogate characters from drawn segments."""

    def __init__(self) -> None:
        super().__init__()
        self.caught = 0  # segments that needed it: 0 when cleaning at the source held

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        """The segments, with anything unsafe in their text removed."""
        if not any(UNSAFE.search(s.text) for s in segments if not s.control):
            return segments
        safe = []
        for segment in segments:
            if not segment.control and UNSAFE.search(segment.text):
                self.caught += 1
                segment = Segment(UNSAFE.sub(_blank, segment.text), segment.style)
            safe.append(segment)
        return safe
