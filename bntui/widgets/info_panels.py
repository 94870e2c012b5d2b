"""Text panels: the top status line, the BN − plain comparison, devices, and model summaries."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from bntui.figures import bn_gap, common_epochs, failures, test_gap
from bntui.runfile import RunFile
from bntui.spec import MODEL_KEYS, MODEL_TITLES
from bntui.text import clean, fmt_duration, fmt_signed
from bntui.widgets.text_view import TextView


class StatusLine(TextView):
    """One line: the state (live, replay, paused, failed), elapsed time, the run file, a
    passing message, then the experiment. What matters most comes first, so a narrow
    terminal cuts only the experiment's details."""

    DEFAULT_CSS = "StatusLine { height: 1; background: $panel; padding: 0 1; }"

    def show(self, run: RunFile, mode: str, path: str = "", message: str = "") -> None:
        """Redraw from the run, the app's mode word, the run file's path and a message."""
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {mode} ", "reverse bold")
        failed = failures(run)
        if failed:
            who = "both models" if len(failed) == 2 else MODEL_TITLES[failed[0][0]]
            text.append(" ")
            text.append(" FAILED ", "reverse bold red")
            text.append(f" {who}", "bold red")
        text.append(f" {fmt_duration(run.duration_s)}")
        if path:
            text.append(f" · {clean(path, 200)}", "bold")
        if message:
            text.append(f" · {clean(message, 300)}", "bold yellow")
        elif failed:
            reasons = list(dict.fromkeys(clean(why, 300) for _, why in failed))
            text.append(f" · {' / '.join(reasons)}", "red")
        text.append(f" · {experiment_line(run)}")
        self.show_text(text)


def experiment_line(run: RunFile) -> str:
    """The experiment in a few words: data (and any --limit), optimizer, batch, epochs."""
    spec = run.spec
    data = f"{spec.dataset}"
    if spec.limit:
        data += f" (first {spec.limit:,} images)"
    return (
        f"{data} · {spec.optimizer} lr {spec.learning_rate:g} · batch {spec.batch_size} · "
        f"{spec.epochs} ep"
    )


class GapLine(TextView):
    """What BN changes, right now: validation accuracy and loss, BN − plain; test accuracy
    at the end. Parts that do not fit the width are left out, and an ellipsis says so."""

    DEFAULT_CSS = "GapLine { height: 1; padding: 0 1; }"

    def show(self, run: RunFile) -> None:
        """Redraw the comparison from the latest epoch both models reached."""
        acc, loss = bn_gap(run, "val_accuracy"), bn_gap(run, "val_loss")
        head = Text("BN − plain ", "bold")
        if acc is None or loss is None:
            head.append("after the first epoch of both models", "dim")
            self.show_text(head)
            return
        head.append(f"at ep {common_epochs(run)}: ")
        parts = [_signed("val acc ", acc * 100, " pts", acc >= 0)]
        test = test_gap(run)
        if test is not None:
            parts.append(_signed("test acc ", test * 100, " pts", test >= 0))
        parts.append(_signed("val loss ", loss, "", loss <= 0, digits=3))
        width = max(self.size.width - 2, 20)

        def length(items: list[Text]) -> int:
            cut = 2 if len(items) < len(parts) else 0  # room for " …"
            return len(head) + sum(len(p) for p in items) + 3 * (len(items) - 1) + cut

        shown = list(parts)
        while len(shown) > 1 and length(shown) > width:
            shown.pop()  # the least needed goes first
        text = head + Text(" · ").join(shown)
        if len(shown) < len(parts):
            text.append(" …", "dim")
        self.show_text(text)


def _signed(name: str, value: float, unit: str, good: bool, digits: int = 2) -> Text:
    text = Text(name)
    text.append(f"{fmt_signed(value, digits)}{unit}", "green" if good else "red")
    return text


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
