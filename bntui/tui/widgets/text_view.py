"""A Static that repaints only when its text changes.

The dashboard asks its widgets to redraw a few times a second whether or not anything
changed; a plain `Static.update` then repaints, and by default also re-lays out the whole
screen. `TextView.show_text` skips both when the text is the same, and skips the layout
when a no-wrap text keeps its number of lines (its height cannot have changed).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import RenderableType
from rich.text import Text
from textual.widgets import Static

from bntui.record.runfile import RunFile


class TextView(Static):
    """A Static with a cheap `show_text`. Lines never wrap: what is too long for the width
    ends in `…` (a drawing, a table row or a status line must not spill onto the next line)."""

    DEFAULT_CSS = "TextView { text-wrap: nowrap; text-overflow: ellipsis; }"

    _shown: Text | str | None = None

    def show_text(self, content: Text | str) -> None:
        """Show `content`, doing no work if it is what is already shown."""
        if content == self._shown:
            return
        layout = True
        if isinstance(content, Text) and content.no_wrap and isinstance(self._shown, Text):
            layout = content.plain.count("\n") != self._shown.plain.count("\n")
        self._shown = content
        self.update(content, layout=layout)


class BuiltView(Static):
    """A Static drawn from a built renderable (a table, an image): rebuilt only when the
    `key` describing its data changes, as a `TextView` repaints only when its text does."""

    _key: object = None

    def show_built(self, key: object, build: Callable[[], RenderableType]) -> None:
        """Show `build()` unless `key` is the one already shown."""
        if key == self._key:
            return
        self._key = key
        self.update(build())


class RunTextView(TextView):
    """A TextView drawn from a run to its width (`text_for`): it keeps the run it shows, so
    a resize lays the text out again even when nothing else redraws (the run has ended, or a
    scrollbar appeared)."""

    _run: RunFile | None = None

    def show(self, run: RunFile) -> None:
        """Redraw from `run`, to the widget's width."""
        self._run = run
        self.show_text(self.text_for(run, self.size.width or self.screen.size.width))

    def text_for(self, run: RunFile, width: int) -> Text:
        """What to show of `run` at `width` columns."""
        raise NotImplementedError

    def on_resize(self) -> None:
        """What fits on a line depends on the width: lay it out again."""
        if self._run is not None:
            self.show(self._run)
