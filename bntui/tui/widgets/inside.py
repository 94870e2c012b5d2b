"""Inside the networks: each layer's statistics over training, plain and BN side by side.

Both charts share one y scale so that the drift of the plain model's layers and the
steadiness of the BN model's can be compared at a glance; gradient norms use a log scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from bntui.core.spec import MODEL_KEYS, MODEL_TITLES
from bntui.core.text import clean, fmt
from bntui.record.columns import LayerTrace
from bntui.record.runfile import RunFile
from bntui.tui.widgets.chart import LineChart, Series
from bntui.tui.widgets.fit import numbers_table
from bntui.tui.widgets.text_view import BuiltView, TextView

PROBE_NOTE = "the first 512 validation images, BN in training mode"
LAYER_COLORS = ("cyan", "magenta", "yellow", "green", "red", "blue", "white")
# Each line also carries a glyph of its own, so that lines differ without colour (NO_COLOR).
LAYER_GLYPHS = ("o", "x", "+", "*", "#", "%", "@")
NO_RELU = "no ReLU layers here: LeakyReLU never outputs exactly 0, so no unit can die"


@dataclass(frozen=True)
class InsideView:
    """One statistic to plot: which, for which kind of layer, how to label and scale it."""

    stat: str
    title: str
    kind: str  # "dense" or "bn"
    log: bool = False
    percent: bool = False


INSIDE_VIEWS: tuple[InsideView, ...] = (
    InsideView("in_mean", "Dense input · mean", "dense"),
    InsideView("in_std", "Dense input · std", "dense"),
    InsideView("pre_mean", "pre-activation · mean", "dense"),
    InsideView("pre_std", "pre-activation · std", "dense"),
    InsideView("grad_norm", "‖∂loss/∂W‖ · log", "dense", log=True),
    InsideView("dead", "dead ReLU units %", "dense", percent=True),
    InsideView("batch_shift", "BN batch−moving mean", "bn"),
    InsideView("batch_var_ratio", "BN batch/moving var", "bn"),
    InsideView("gamma_mean", "BN γ (scale) mean", "bn"),
    InsideView("beta_mean", "BN β (shift) mean", "bn"),
    InsideView("moving_mean", "BN moving mean", "bn"),
    InsideView("moving_var", "BN moving variance", "bn"),
)
VIEW_HELP = {
    "in_mean": "mean of what each Dense layer receives: drifts in the plain model",
    "in_std": "spread of what each Dense layer receives",
    "pre_mean": "mean of x·W + b, before the activation",
    "pre_std": "spread of x·W + b, before the activation",
    "grad_norm": "L2 norm of the loss gradient for each kernel (vanishing = small)",
    "dead": "ReLU units that no probe image switches on (ReLU layers only)",
    "batch_shift": "probe-batch mean vs the moving mean, in moving standard deviations",
    "batch_var_ratio": "probe-batch variance over the moving variance (1 = agree)",
    "gamma_mean": "learned scale γ, averaged over features (starts at 1)",
    "beta_mean": "learned shift β, averaged over features (starts at 0)",
    "moving_mean": "moving mean used at inference, averaged over features (starts at 0)",
    "moving_var": "moving variance used at inference, averaged over features",
}


def layer_label(trace: LayerTrace) -> str:
    """`dense 300` / `bn 784`: the kind and width, shorter than Keras' layer names."""
    return f"{trace.kind} {trace.units}" if trace.units else clean(trace.name, 20)


def _value(view: InsideView, value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    if view.log:
        return math.log10(value) if value > 0 else None
    return value * 100 if view.percent else value


def _show(view: InsideView, value: float | None) -> str:
    if value is None:
        return "—"
    if view.percent:
        return f"{fmt(value * 100, 1)}%"
    return f"{value:.1e}" if view.log else fmt(value, 3)


def dead_applies(run: RunFile, key: str, trace: LayerTrace) -> bool:
    """Whether "dead units" means anything for this Dense layer: only before a ReLU.

    bntui records no value for other activations; files from before it knew that recorded 0
    for LeakyReLU layers, which `model.summary()` shows as the next layer.
    """
    values = trace.stats.get("dead", [])
    if values and all(v is None for v in values):
        return False
    summary = run.models[key].summary
    if summary is None:
        return True
    names = [layer.name for layer in summary.layers]
    if trace.name in names:
        i = names.index(trace.name)
        following = summary.layers[i + 1].type if i + 1 < len(names) else ""
        return following != "LeakyReLU"
    return True


def layer_series(run: RunFile, key: str, view: InsideView) -> list[tuple[LayerTrace, Series]]:
    """The plotted lines of model `key` for `view`: one per layer of the view's kind (for
    dead units, per ReLU layer), each with a colour and a glyph of its own."""
    inside = run.models[key].inside
    lines = []
    traces = [t for t in inside.layers if t.kind == view.kind]
    if view.stat == "dead":
        traces = [t for t in traces if dead_applies(run, key, t)]
    for i, trace in enumerate(traces):
        values = trace.stats.get(view.stat, [])
        ys = [_value(view, v) for v in values]
        style = LAYER_COLORS[i % len(LAYER_COLORS)]
        glyph = LAYER_GLYPHS[i % len(LAYER_GLYPHS)]
        series = Series(layer_label(trace), list(inside.position), ys, style, glyph=glyph)
        lines.append((trace, series))
    return lines


def empty_message(run: RunFile, key: str, view: InsideView, plotted: bool) -> str:
    """What model `key`'s chart says when it has nothing to plot for `view`."""
    record = run.models[key]
    if not run.spec.inside_per_epoch:
        return "layer statistics were off for this run (--inside 0)"
    if record.inside.layers and not plotted:
        if view.stat == "dead" and any(t.kind == "dense" for t in record.inside.layers):
            return NO_RELU
        return f"no {view.kind.upper()} layers in this model"
    if record.status in ("pending", "running"):
        return "waiting for the first measurement…"
    if run.schema_version < 2:
        return "recorded without layer statistics (a schema 1 file, from before bntui had them)"
    return "no layer statistics were recorded for this model"


class InsidePanel(Vertical):
    """One model's chart of the chosen statistic, with a legend of its latest values."""

    DEFAULT_CSS = """
    InsidePanel { border: round $primary; height: 1fr; width: 1fr; padding: 0 1; }
    InsidePanel > TextView { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, key: str) -> None:
        super().__init__(id=f"inside-{key}")
        self.key = key
        self.border_title = MODEL_TITLES[key]

    def compose(self) -> ComposeResult:
        """Chart above, legend below."""
        yield LineChart(id=f"inside-chart-{self.key}")
        yield TextView(id=f"inside-legend-{self.key}")

    def show(
        self,
        run: RunFile,
        view: InsideView,
        lines: list[tuple[LayerTrace, Series]],
        y_range: tuple[float, float] | None,
    ) -> None:
        """Draw `lines` (from `layer_series`) on the shared `y_range`."""
        title = MODEL_TITLES[self.key]
        if len(run.seeds) > 1:  # the probe measures the first seed only
            title += f" · seed {run.seeds[0].seed}"
        self.border_title = title
        chart = self.query_one(LineChart)
        chart.empty_message = empty_message(run, self.key, view, bool(lines))
        chart.show(
            [s for _, s in lines],
            run.spec.epochs,
            view.stat,
            y_range=y_range,
            log_y=view.log,
            unit="%" if view.percent else "",
        )
        legend = Text(no_wrap=True, overflow="ellipsis")
        columns = [trace.stats.get(view.stat, []) for trace, _ in lines]
        latest = [_show(view, values[-1] if values else None) for values in columns]
        # Right-aligned to the widest, so that a minus sign does not shift its column.
        width = max(map(len, latest), default=0)
        for (_, series), values, now in zip(lines, columns, latest):
            first = next((v for v in values if v is not None), None)
            legend.append(f"━{series.glyph} ", series.style)
            legend.append(f"{series.label:<10}", "bold")
            legend.append(f" {now:>{width}}")
            legend.append(f" (from {_show(view, first)})\n", "dim")
        legend.rstrip()
        self.query_one(TextView).show_text(legend)


class InsideTable(BuiltView):
    """Every statistic's latest value, for every layer of both models."""

    def show(self, run: RunFile, view: InsideView) -> None:
        """Redraw from the latest measurement of each model; `view` is the one plotted."""
        self.show_built(
            (id(run), view, *(len(m.inside.position) for m in run.models.values())),
            lambda: self._build(run, view),
        )

    def _build(self, run: RunFile, view: InsideView) -> RenderableType:
        dense_rows: list[list[Text | str]] = []
        bn_rows: list[list[Text | str]] = []
        for key in MODEL_KEYS:
            for trace in run.models[key].inside.layers:
                # The table's title says the kind: the model and the width name the layer.
                label = f"{key} {trace.units}" if trace.units else f"{key} {clean(trace.name, 20)}"
                name = Text(label)  # text, not markup
                latest = {k: (v[-1] if v else None) for k, v in trace.stats.items()}

                def num(stat: str, latest: dict[str, float | None] = latest) -> str:
                    return fmt(latest.get(stat), 3)

                if trace.kind == "dense":
                    dead = latest.get("dead") if dead_applies(run, key, trace) else None
                    grad = latest.get("grad_norm")
                    dense_rows.append(
                        [
                            name,
                            num("in_mean"),
                            num("in_std"),
                            num("pre_mean"),
                            num("pre_std"),
                            "—" if dead is None else f"{fmt(dead * 100, 1)}%",
                            "—" if grad is None else f"{grad:.2e}",
                        ]
                    )
                else:
                    bn_rows.append(
                        [
                            name,
                            f"{num('gamma_mean')}{spread(latest.get('gamma_std'))}",
                            f"{num('beta_mean')}{spread(latest.get('beta_std'))}",
                            num("moving_mean"),
                            num("moving_var"),
                            num("batch_shift"),
                            num("batch_var_ratio"),
                        ]
                    )
        grid = Table.grid()
        about = Text(f"{view.title}: ", "bold")
        about.append(VIEW_HELP.get(view.stat, ""))
        about.append(f" · probe: {PROBE_NOTE}", "dim")
        grid.add_row(about)
        if not dense_rows:
            grid.add_row(Text(empty_message(run, "bn", view, False), "dim"))
            return grid
        dense_columns = ("layer", "in mean", "in std", "pre mean", "pre std", "dead", "‖∂L/∂W‖")
        grid.add_row(numbers_table("Dense layers, latest", dense_columns, dense_rows))
        grid.add_row(Text("dead: ReLU layers only (— before LeakyReLU or softmax)", "dim"))
        if bn_rows:
            columns = ("layer", "γ", "β", "moving\nmean", "moving\nvar", "shift", "var×")
            grid.add_row(numbers_table("BatchNorm layers, latest", columns, bn_rows))
        return grid


def spread(value: float | None) -> str:
    """`±.004`: a standard deviation after its mean, its leading zero left out (as in
    printed tables), so that the Dense and BN tables keep every digit at 60 columns."""
    if value is None or not math.isfinite(value):
        return "±—"
    text = fmt(value, 3)
    return "±" + (text[1:] if text.startswith("0.") else text)
