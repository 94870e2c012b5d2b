"""Text panels: the top status line, the BN − plain comparison, devices, and model summaries."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from bntui.runfile import RunFile
from bntui.spec import MODEL_KEYS, MODEL_TITLES
from bntui.stats import bn_gap
from bntui.text import clean, fmt_duration
from bntui.widgets.text_view import TextView


class StatusLine(TextView):
    """One line: the experiment, the mode (live, replay, paused), elapsed time, the file."""

    DEFAULT_CSS = "StatusLine { height: 1; background: $panel; padding: 0 1; }"

    def show(self, run: RunFile, mode: str, note: str = "") -> None:
        """Redraw from the run and the app's mode word."""
        spec = run.spec
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {mode} ", "reverse bold")
        if note:  # e.g. where the run was saved: more useful than the spec once it is done
            text.append(f" {note} ·", "bold")
        text.append(
            f" {spec.dataset} · {spec.optimizer} lr {spec.learning_rate:g} · batch "
            f"{spec.batch_size} · {spec.epochs} ep"
        )
        if spec.limit:
            text.append(f" · limit {spec.limit:,}")
        text.append(f" · {fmt_duration(run.duration_s)}")
        self.show_text(text)


class GapLine(TextView):
    """What BN changes, right now: validation accuracy and loss, BN − plain."""

    DEFAULT_CSS = "GapLine { height: 1; padding: 0 1; }"

    def show(self, run: RunFile) -> None:
        """Redraw the comparison from the latest epoch both models reached."""
        acc, loss = bn_gap(run, "val_accuracy"), bn_gap(run, "val_loss")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("BN − plain ", "bold")
        if acc is None or loss is None:
            text.append("after the first epoch of both models", "dim")
        else:
            epochs = min(len(run.models[k].history.val_loss) for k in MODEL_KEYS)
            text.append(f"at epoch {epochs}: val acc ")
            text.append(f"{acc * 100:+.2f} pts", "green" if acc >= 0 else "red")
            text.append("  val loss ")
            text.append(f"{loss:+.4f}", "green" if loss <= 0 else "red")
        tests = [run.models[k].test for k in MODEL_KEYS]
        if all(t and t.accuracy is not None for t in tests):
            diff = tests[1].accuracy - tests[0].accuracy  # type: ignore[union-attr, operator]
            text.append(f"  test acc {diff * 100:+.2f} pts")
        self.show_text(text)


def _bytes(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n else "?"


class DevicePanel(TextView):
    """Backend and versions, the devices found, and what each model runs on."""

    def show(self, run: RunFile) -> None:
        """Redraw from the run's environment and devices."""
        env = run.environment
        text = Text()
        if not env:
            text.append("waiting for the workers to start…", "dim")
            self.show_text(text)
            return
        text.append("Backend  ", "bold")
        text.append(
            f"keras {clean(env.get('keras'))} on {clean(env.get('backend'))} "
            f"{clean(env.get('backend_version'))} · python {clean(env.get('python'))} · "
            f"numpy {clean(env.get('numpy'))}\n"
        )
        text.append("Devices\n", "bold")
        for dev in run.devices:
            if dev.get("kind") == "CPU":
                text.append(
                    f"  CPU  {clean(dev.get('name'))} · {clean(dev.get('cores'))} cores · "
                    f"{_bytes(int(dev.get('memory_bytes') or 0))} RAM\n"
                )
            else:
                text.append(
                    f"  GPU  {clean(dev.get('id'))} {clean(dev.get('name'))} · "
                    f"{_bytes(int(dev.get('memory_bytes') or 0))}\n"
                )
        if not any(d.get("kind") == "GPU" for d in run.devices):
            text.append("  no GPU visible to the backend\n", "dim")
        text.append("Runs on\n", "bold")
        gpus = run.spec.devices.split(",") if run.spec.devices else None
        for i, key in enumerate(MODEL_KEYS):
            where = clean(run.models[key].runs_on) or "—"
            if gpus:
                where += f" · physical GPU {clean(gpus[i].strip())} (--devices)"
            text.append(f"  {MODEL_TITLES[key]:<16} {where}\n")
        text.append_text(system_text(run))
        self.show_text(text)


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], top: float, width: int = 20) -> str:
    """The last `width` values as block characters, 0 to `top`."""
    return "".join(
        " " if v is None else SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))]
        for v in values[-width:]
    )


def system_text(run: RunFile) -> Text:
    """Live load: each worker's CPU and memory, each GPU's load (what was sampled)."""
    trace = run.system
    text = Text()
    if not trace.t:
        return text
    text.append("Live load", "bold")
    text.append("  (sampled each second; CPU in % of one core)\n", "dim")
    series = trace.series
    for key in MODEL_KEYS:
        cpu = series.get(f"{key}.cpu_pct", [])
        rss = [v for v in series.get(f"{key}.rss_mb", []) if v is not None]
        if not rss:
            continue
        text.append(f"  {MODEL_TITLES[key]:<16} ")
        if cpu and cpu[-1] is not None:
            text.append(f"CPU {cpu[-1]:5.0f}% ")
        else:
            text.append("worker ended ", "dim")
        top = max(100.0, *(v for v in cpu if v is not None))
        text.append(sparkline(cpu, top), "cyan")
        text.append(f"  RSS {rss[-1] / 1024:.2f} GiB\n")
    for tag, name in trace.gpu_names.items():
        util = series.get(f"{tag}.util_pct", [])
        used = series.get(f"{tag}.memory_used_mb", [None])[-1]
        total = series.get(f"{tag}.memory_total_mb", [None])[-1]
        temp = series.get(f"{tag}.temperature_c", [None])[-1]
        if not util or util[-1] is None:
            continue
        text.append(f"  {tag.upper()} {clean(name, 24)} util {util[-1]:3.0f}% ")
        text.append(sparkline(util, 100.0), "green")
        text.append(
            f"  mem {(used or 0) / 1024:.1f}/{(total or 0) / 1024:.0f} GiB  {temp or 0:.0f}°C\n"
        )
    return text


class SummaryPanel(Static):
    """`model.summary()` for one model: layers, output shapes, parameters."""

    def __init__(self, key: str) -> None:
        super().__init__(id=f"summary-{key}")
        self.key = key

    def show(self, run: RunFile) -> None:
        """Redraw from the model's recorded summary."""
        summary = run.models[self.key].summary
        if summary is None:
            self.update(Text(f"{MODEL_TITLES[self.key]}: waiting for the model…", "dim"))
            return
        table = Table(title=MODEL_TITLES[self.key], expand=True, box=None, padding=(0, 1))
        table.add_column("Layer (type)", overflow="fold")
        table.add_column("Output", no_wrap=True)
        table.add_column("Params", justify="right")
        table.add_column("Trainable", justify="right")
        for layer in summary.layers:
            table.add_row(
                Text(f"{clean(layer.name, 40)} ({clean(layer.type, 30)})"),
                Text(clean(layer.output_shape, 30)),
                f"{layer.params:,}",
                f"{layer.trainable_params:,}",
            )
        table.caption = (
            f"Total {summary.total_params:,} · trainable {summary.trainable_params:,} · "
            f"non-trainable {summary.non_trainable_params:,}"
            + (" (BN moving mean/variance)" if summary.non_trainable_params else "")
        )
        self.update(table)
