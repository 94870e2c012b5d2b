"""Two modal views over any screen: the keys of the screen below (`?`, F1), built from its
bindings when opened so it can never go stale, and a text shown whole (the messages the
screen cut with "…": a failure's reason, a worker's error, a passing message).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

# Bindings that only say why a key cannot act: the help lists the key's real action.
WHY_NOT = "why_not"
# Textual's own keys, said as bntui says its own (its words are Title Case labels).
OWN_WORDS = {
    "app.focus_next": "move the focus to the next part of the screen",
    "app.focus_previous": "move the focus to the previous part of the screen",
    "next_tab": "the next tab",
    "previous_tab": "the previous tab",
}
CLOSES = "Esc closes"
MORE_BELOW = "↓ more: space, PgDn · Esc closes"

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > VerticalScroll {{
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    border: round $accent; padding: 0 1; background: $surface;
}}
{name} Static {{ width: 100%; }}
"""


@dataclass(frozen=True)
class KeyRow:
    """One action of the screen: its keys, what it does, and why it cannot act now."""

    keys: str
    does: str
    unavailable: str | None = None


def key_rows(screen: Screen[Any]) -> list[KeyRow]:
    """Every key of `screen` (the focused widget's, then the screen's own), one row per
    action, in the order they were bound; the app's own keys are left out."""
    app = screen.app
    keys: dict[str, list[str]] = {}
    bindings: dict[str, Binding] = {}
    # The screen's own keys first, then those of the widget with the focus (scrolling).
    for namespace, bindings_map in reversed(screen._binding_chain):
        if namespace is app:
            continue
        for _, binding in bindings_map:
            if binding.action.startswith(WHY_NOT) or binding.system or "copy" in binding.action:
                continue
            shown = app.get_key_display(replace(binding, key_display=None))
            action = binding.action
            if action not in bindings or not bindings[action].tooltip:  # the one that says most
                bindings[action] = binding
            if shown not in keys.setdefault(action, []):
                keys[action].append(shown)
    explain = getattr(screen, "why_not", None)  # a StreamScreen says why a key cannot act
    rows = []
    for action, binding in bindings.items():
        _, name, parameters = parse_action(action)
        why = explain(name, parameters) if explain is not None else None
        does = binding.tooltip or OWN_WORDS.get(action) or binding.description
        does = does or name.replace("_", " ")
        rows.append(KeyRow(", ".join(keys[action]), does, why))
    return rows


def keys_table(rows: list[KeyRow]) -> Table:
    """The keys as a two-column table; a key that cannot act now says why, in words."""
    table = Table(box=None, show_header=True, header_style="bold", expand=True, padding=(0, 1))
    table.add_column("key", no_wrap=True, style="bold")
    table.add_column("does", ratio=1)
    for row in rows:
        does = Text(row.does)
        if row.unavailable:
            does.append(f" (not now: {row.unavailable})", "italic")
        table.add_row(row.keys, does)
    return table


class TextScreen(ModalScreen[None]):
    """A title and a body shown whole, wrapped and scrollable; any of its keys closes it."""

    DEFAULT_CSS = MODAL_CSS.format(name="TextScreen")
    BINDINGS = [
        Binding("escape,q,question_mark,f1,l", "close", "Close"),
        Binding("pagedown,space", "page(1)", "Scroll", show=False),
        Binding("pageup", "page(-1)", "Scroll up", show=False),
    ]

    def __init__(self, title: str, body: Table | Text) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        """The body in a scrollable box titled with what it is and how to close it."""
        with VerticalScroll() as box:
            box.border_title = self.title_text
            box.border_subtitle = CLOSES
            yield Static(self.body)

    def on_mount(self) -> None:
        """Say in the border when the box holds more than it shows (a small terminal cuts
        the help's last keys, and a scrollbar alone is easy to miss)."""
        box = self.query_one(VerticalScroll)
        self.watch(box, "scroll_y", lambda _: self.mark_more(), init=False)
        self.call_after_refresh(self.mark_more)

    def on_resize(self) -> None:
        """A new size may show all of it, or cut it."""
        self.call_after_refresh(self.mark_more)

    def mark_more(self) -> None:
        """The border's subtitle: how to see the rest while some of it is below."""
        for box in self.query(VerticalScroll):  # none once closed (a late refresh callback)
            box.border_subtitle = MORE_BELOW if box.scroll_y < box.max_scroll_y else CLOSES

    def action_close(self) -> None:
        """Back to the screen below."""
        self.dismiss(None)

    def action_page(self, pages: int) -> None:
        """Scroll a page down or up."""
        box = self.query_one(VerticalScroll)
        if pages > 0:
            box.scroll_page_down(animate=False)
        else:
            box.scroll_page_up(animate=False)


def help_screen(screen: Screen[Any]) -> TextScreen:
    """The help for `screen`: every key it has now, what it does, why one cannot act."""
    return TextScreen("Keys of this screen", keys_table(key_rows(screen)))


def messages_screen(messages: list[str]) -> TextScreen:
    """Every message of the session so far, whole, oldest first."""
    body = Text()
    for i, message in enumerate(messages):
        body.append(("\n\n" if i else "") + message)
    if not messages:
        body.append("no messages yet", "italic")
    return TextScreen("Messages, whole", body)
