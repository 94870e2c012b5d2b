"""The Training tab's curves for a run of several seeds: each model's mean with the seeds'
min–max band, or each seed as a line of its own (`b` switches).

The figures come from `bntui.stats.seedstats` (bands); this module only turns them into chart
series and says in a legend line what is drawn.
"""

from __future__ import annotations

from rich.text import Text

from bntui.core.metrics import step_metric
from bntui.record.runfile import RunFile
from bntui.stats.seedcurves import Band, epoch_band, step_band
from bntui.tui.widgets.chart import SHADES, Series

# Each seed's line has a colour and a glyph of its own (told apart without colour too).
SEED_COLORS = ("cyan", "magenta", "yellow", "green", "red", "blue", "white")
SEED_GLYPHS = ("o", "x", "+", "*", "#", "%", "@")
# How a band's dotted edges look, for the legend.
BAND_EDGE = "⠂⠐⠂"


def seed_glyph(index: int) -> tuple[str, str]:
    """The style and glyph of seed `index`'s lines."""
    return SEED_COLORS[index % len(SEED_COLORS)], SEED_GLYPHS[index % len(SEED_GLYPHS)]


def seed_series(run: RunFile, key: str, metric: str, series_mode: str, each: bool) -> list[Series]:
    """Model `key`'s curves over the seeds: with `each`, every seed's training curve (and
    validation points); else the mean training curve with its min–max band and the mean
    validation value at each epoch with the seeds' min–max as an error bar."""
    declared = step_metric(metric)
    bands: list[tuple[str, Band, str]] = []
    if series_mode in ("both", "train"):
        bands.append(("train", step_band(run, key, metric), "cyan"))
    if series_mode in ("both", "val") and declared.validation:
        bands.append(("val", epoch_band(run, key, declared.validation), "yellow"))
    series = []
    for label, found, style in bands:
        markers = label == "val" and series_mode == "both"
        if not each:
            spread = (found.low, found.high)
            series.append(
                Series(label, found.x, found.mean, style, markers, band=spread, band_shaded=True)
            )
            continue
        for i, (xs, ys) in enumerate(found.seeds):
            color, glyph = seed_glyph(i)
            name = f"{label} seed {run.seeds[i].seed}"
            glyph_or_none = None if markers else glyph
            series.append(
                Series(name, xs, ys, color, markers, glyph=glyph_or_none, label_once=True)
            )
    return series


def seed_legend(run: RunFile, each: bool, in_color: bool = True) -> Text:
    """What the chart below shows of the seeds: the band's meaning (shaded; under NO_COLOR,
    `not in_color`, also its dotted edges), or each seed's glyph."""
    n = len(run.seeds)
    text = Text(no_wrap=True, overflow="ellipsis")
    if not each:
        text.append(f"{n} seeds: ")
        text.append("⠒⠒", "cyan")
        text.append(" mean ")
        text.append(" min–max ", f"on {SHADES['cyan']}")
        if not in_color:  # the shade may not show: its dotted edges do
            text.append(f" {BAND_EDGE}", "dim cyan")
        return text
    text.append("seeds:")
    for i, entry in enumerate(run.seeds):
        color, glyph = seed_glyph(i)
        text.append(f" {glyph}", f"bold {color}")
        text.append(f" {entry.seed}")
    return text
