"""Safe, compact text for terminals: strings from run files are shown, never interpreted.

`clean` is the one cleaning function: every string that comes from a file, a worker or the
operating system passes through it on its way to the screen, a terminal line, an export or
an error message. It keeps text on one line and makes anything a terminal would act on
visible instead: C0 controls (ESC, BEL, CR, LF, TAB, NUL) and DEL as `^[`-style marks, C1
controls (0x80-0x9f, e.g. the 8-bit CSI), lone surrogates (which would be written as raw
bytes), Unicode line separators, the bidirectional overrides and isolates (which reorder
what is shown) and tag characters (invisible text) as `<U+202E>`-style marks.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from typing import TextIO

UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0, DEL, C1
    "\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"  # bidi marks, overrides, isolates; LS, PS
    "\ud800-\udfff"  # lone surrogates (a str from JSON can hold them)
    "\U000e0000-\U000e007f]"  # tag characters: invisible text
)


SURROGATES = re.compile("[\ud800-\udfff]")


def _mark(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20 or code == 0x7F:
        return f"^{chr(code ^ 0x40)}"
    return f"<U+{code:04X}>"


def clean(value: object, limit: int | None = 500) -> str:
    """Make any value printable on one line: what a terminal would act on becomes a visible
    mark (`^[`, `^J`, `<U+202E>`); text over `limit` characters is cut with `…`."""
    try:
        text = value if isinstance(value, str) else str(value)
    except RecursionError:  # a deeply nested structure: nothing worth showing
        text = "…"
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return UNSAFE.sub(_mark, text) if UNSAFE.search(text) else text


SCALARS = frozenset({int, float, bool, type(None)})


def clean_tree(value: object, depth: int = 16, text: Callable[[str], str] | None = None) -> object:
    """`clean` every string (keys too) of decoded JSON, or apply `text` to each instead;
    what is nested deeper than `depth` becomes None. For events, whose fields are free-form
    dicts and lists."""
    if isinstance(value, str):
        return clean(value, None) if text is None else text(value)
    if depth <= 0 and isinstance(value, (dict, list, tuple)):
        return None
    if isinstance(value, dict):
        return {
            clean_tree(k, depth, text): clean_tree(v, depth - 1, text) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        # A list of numbers is copied as it is, its items' types looked at in C: a test
        # event's images are 12,544 numbers in 448 lists; a call for each took 2.4 ms, in
        # the worker and again in bntui, at the run's end (`bench/RESULTS.md`, round 20).
        if SCALARS.issuperset(map(type, value)):
            return list(value)
        return [clean_tree(v, depth - 1, text) for v in value]
    return value


def no_surrogates(text: str) -> str:
    """Lone surrogates as U+FFFD, one character each (so no length limit is crossed)."""
    return SURROGATES.sub("\ufffd", text)


def say(line: str, file: TextIO | None = None) -> None:
    """Print one line of bntui's output, cleaned whole: nothing in it can act on a terminal
    or forge another line, whatever file, worker or path it quotes."""
    print(clean(line, None), file=file or sys.stdout, flush=True)


def fmt(value: float | None, digits: int = 4) -> str:
    """A metric for display; missing or non-finite values read as a dash, never `-0.000`."""
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_signed(value: float | None, digits: int = 2) -> str:
    """A difference with its sign (`+3.18`, `−0.112` with a minus sign, as every BN − plain
    figure is written, and `0.00` rather than `−0.00`)."""
    text = fmt(value, digits)
    if text == "—" or float(text) == 0:
        return text.lstrip("-")
    if text.startswith("-"):
        return "−" + text[1:]
    return "+" + text


def fmt_duration(seconds: float | None) -> str:
    """`m:ss` (or `h:mm:ss`) for elapsed times and ETAs."""
    if seconds is None or not 0 <= seconds < 1e15:  # negative, absurd or not finite
        return "—"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fmt_count(n: float | None) -> str:
    """1234 → `1.2k`, for samples/s."""
    if n is None:
        return "—"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return f"{n:.0f}"
