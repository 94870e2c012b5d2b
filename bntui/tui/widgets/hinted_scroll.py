"""A scrolling container that says when there is more below: nothing is cut off silently.

Textual's scrollbar is one column wide and easy to miss at 80x24; this container's bottom
edge reads "▼ more below" while part of its content is out of sight, and "▲ more above"
once scrolled to the end.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.geometry import Size

MORE_BELOW = "▼ more below · ↓ PgDn scroll"
MORE_ABOVE = "▲ more above · ↑ PgUp Home"


class HintedScroll(VerticalScroll):
    """A VerticalScroll whose bottom edge tells whether content lies out of sight."""

    DEFAULT_CSS = """
    HintedScroll { border-bottom: solid $primary-darken-2; border-subtitle-align: right; }
    """

    def hint(self) -> str:
        """What the bottom edge says now (empty when everything is in view)."""
        if self.max_scroll_y <= 0:
            return ""
        if self.scroll_y < self.max_scroll_y - 0.5:
            return MORE_BELOW
        return MORE_ABOVE

    def show_hint(self) -> None:
        """Say now whether content lies out of sight."""
        hint = self.hint()
        if self.border_subtitle != hint:
            self.border_subtitle = hint

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolled: the hint may change."""
        super().watch_scroll_y(old_value, new_value)
        self.show_hint()

    def watch_virtual_size(self, size: Size) -> None:
        """The content grew or shrank: the hint may change."""
        self.call_after_refresh(self.show_hint)

    def on_resize(self) -> None:
        """The window changed: the hint may change."""
        self.call_after_refresh(self.show_hint)
