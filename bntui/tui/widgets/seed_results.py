"""The Results tab's figures across seeds: each seed's test accuracy, each model's mean with
its 95% interval, and every BN − plain comparison paired over the seeds.

The numbers come from `bntui.stats.seedstats`; a run of one seed shows nothing here (the test table
below says it all).
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bntui.core.spec import MODEL_KEYS
from bntui.core.text import fmt, fmt_signed
from bntui.record.runfile import RunFile
from bntui.stats.seedstats import (
    comparisons,
    pairing,
    plus_minus,
    test_comparison,
    test_rows,
    test_summary,
    unpaired_seeds,
)
from bntui.tui.widgets.text_view import BuiltView


class SeedTestTable(BuiltView):
    """Test accuracy of every seed of both models, their means ± 95% CI, and BN − plain."""

    DEFAULT_CSS = "SeedTestTable { display: none; } SeedTestTable.-shown { display: block; }"

    def show(self, run: RunFile) -> None:
        """Redraw from the recorded test results (nothing for a run of one seed)."""
        self.set_class(len(run.seeds) > 1, "-shown")
        if len(run.seeds) < 2:
            return
        finished = tuple(m.test is None for entry in run.seeds for m in entry.models.values())
        epochs = tuple(
            len(m.history.column("loss")) for entry in run.seeds for m in entry.models.values()
        )
        self.show_built((id(run), finished, epochs), lambda: self._build(run))

    def _build(self, run: RunFile) -> RenderableType:
        n = len(run.seeds)
        table = Table(title=f"Test accuracy of {n} seeds", box=None, padding=(0, 2))
        for column in ("seed", "plain", "bn", "BN − plain (pts)"):
            table.add_column(column, justify="left" if column == "seed" else "right")
        for row in test_rows(run):
            gap = None if row.gap is None else row.gap * 100
            style = "" if gap is None else ("green" if gap >= 0 else "red")
            table.add_row(str(row.seed), fmt(row.plain), fmt(row.bn), Text(fmt_signed(gap), style))
        means = {key: test_summary(run, key) for key in MODEL_KEYS}
        table.add_section()
        paired = test_comparison(run)
        table.add_row(
            "mean ± 95% CI",
            *(plus_minus(means[key], spaced=True) for key in MODEL_KEYS),
            plus_minus(paired.interval if paired else None, 2, signed=True, spaced=True),
        )
        lines = Text(no_wrap=True, overflow="ellipsis")
        lines.append(f"BN − plain over {n} seeds", "bold")
        lines.append(f" (paired: {pairing(run)})\n", "bold red" if unpaired_seeds(run) else "dim")
        found = comparisons(run)
        for comparison in found:
            lines.append(f"  {comparison.text()}\n")
        if not found:
            lines.append("  after the first epoch of every seed\n", "dim")
        lines.rstrip()
        return Group(table, Text(""), lines, Text(""))
