"""Safe, compact text for terminals: strings from run files are shown, never interpreted."""

from __future__ import annotations

import math
import re

# C0/C1 control characters, DEL: ESC starts CSI/OSC sequences, BEL rings the bell.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: object, limit: int = 500) -> str:
    """Make any value printable: control characters become visible `^[`-style marks."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _CONTROL.sub(lambda m: f"^{chr((ord(m.group()) + 64) % 128)}", text)


def fmt(value: float | None, digits: int = 4) -> str:
    """A metric for display; missing or non-finite values read as a dash, never `-0.000`."""
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_signed(value: float | None, digits: int = 2) -> str:
    """A difference with its sign (`+3.18`, `-0.112`, and `0.00` rather than `-0.00`)."""
    text = fmt(value, digits)
    if text == "—" or text.startswith("-") or float(text) == 0:
        return text
    return "+" + text


def fmt_duration(seconds: float | None) -> str:
    """`m:ss` (or `h:mm:ss`) for elapsed times and ETAs."""
    if seconds is None or seconds < 0:
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
