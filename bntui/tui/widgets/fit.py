"""One line of parts in a given width, where labels give way before digits.

Each part has forms from longest to shortest (the last may be empty: the part can go). Where
the line is too wide, the parts give way in the order the caller names (labels and notes
first, the numbers people came for last), each to its next form, until the line fits;
what still does not fit ends in `…`.
"""

from __future__ import annotations

from collections.abc import Sequence

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
