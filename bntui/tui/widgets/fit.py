"""Lines and tables in a given width, where labels give way before digits.

Each part has forms from longest to shortest (the last may be empty: the part can go). Where
the line is too wide, the parts give way in the order the caller names (labels and notes
first, the numbers people came for last), each to its next form, until the line fits;
what still does not fit ends in `…`. A table of numbers (`numbers_table`) never cuts a
cell: its headers wrap instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

Forms = Sequence[Sequence[Text | str]]


def joined(forms: Forms, chosen: Sequence[int]) -> Text:
    """The line of each part's chosen form."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for part, k in zip(forms, chosen):
        form = part[k]
        text.append_text(form if isinstance(form, Text) else Text(form))
    return text


def fit_forms(forms: Forms, gives_way: Sequence[int | tuple[int, int]], width: int) -> list[int]:
    """Which form of each part: `forms[i][0]` for each, while the line is wider than `width`
    part `gives_way[0]` takes its next form, then (once it has none left) `gives_way[1]`,
    and so on. An entry `(i, k)` takes part i no further than its form k (a later entry
    may take it further)."""
    chosen = [0] * len(forms)
    for step in gives_way:
        i, last = step if isinstance(step, tuple) else (step, len(forms[step]) - 1)
        last = min(last, len(forms[i]) - 1)
        while joined(forms, chosen).cell_len > width and chosen[i] < last:
            chosen[i] += 1
    return chosen


def fit_line(forms: Forms, gives_way: Sequence[int | tuple[int, int]], width: int) -> Text:
    """`fit_forms`' line."""
    return joined(forms, fit_forms(forms, gives_way, width))


def fit_or_mark(forms: Forms, gives_way: Sequence[int | tuple[int, int]], width: int) -> Text:
    """`fit_line`, ending in ` …` where a part had to be left out (an empty form chosen)."""
    chosen = fit_forms(forms, gives_way, width)

    def dropped(chosen: list[int]) -> bool:
        return any(part[k] == "" and part[0] != "" for part, k in zip(forms, chosen))

    if not dropped(chosen):
        return joined(forms, chosen)
    text = joined(forms, fit_forms(forms, gives_way, width - 2))
    text.append(" …", "dim")
    return text


def flowed(label: str, parts: list[str], width: int) -> Text:
    """`label` then `parts` joined by ` · `, as many on a line as `width` allows; the next
    lines indented under the first part (a version is never cut)."""
    text = Text()
    text.append(label, "bold")
    line = len(label)
    for i, part in enumerate(parts):
        if i and line + 3 + len(part) > width:
            text.append("\n" + " " * len(label))
            line = len(label)
        elif i:
            text.append(" · ")
            line += 3
        text.append(part)
        line += len(part)
    text.append("\n")
    return text


def numbers_table(
    title: str,
    columns: Sequence[str],
    rows: list[list[Text | str]],
    width: int | None = None,
    gives_way: Sequence[int] = (),
) -> Table:
    """A table whose cells are never cut: each column at least as wide as its widest cell,
    one space between columns; where the width is short the headers wrap, not the digits.
    Where even so the columns do not fit `width`, those of `gives_way` are left out, in that
    order, and the caption names them (never a column dropped silently)."""

    def widest(i: int) -> int:
        cells = [row[i] for row in rows]
        return max(
            (Text(c).cell_len if isinstance(c, str) else c.cell_len for c in cells), default=0
        )

    kept = list(range(len(columns)))
    for i in gives_way:
        if width is None or sum(widest(k) + 1 for k in kept) - 1 <= width:
            break
        kept.remove(i)
    table = Table(
        box=None,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        expand=True,
        title=title or None,
    )
    # Headers wider than their digits take two lines where one would not fit (rich's own
    # shrinking would cut a column's digits instead).
    one_line = sum(max(widest(k), len(columns[k])) + 1 for k in kept) - 1
    stack = width is not None and one_line > width
    for i in kept:
        header = "\n".join(columns[i].rsplit(" ", 1)) if stack and i else columns[i]
        table.add_column(
            header, justify="left" if i == 0 else "right", min_width=widest(i), no_wrap=i == 0
        )
    for row in rows:
        table.add_row(*(row[i] for i in kept))
    left_out = [columns[i] for i in range(len(columns)) if i not in kept]
    if left_out:
        table.caption = f"left out at this width: {', '.join(left_out)} (widen the terminal)"
    return table
