"""The Device tab: versions, the CPU and the GPUs bntui may use, where each model trains (as
its backend says), why a GPU that is present goes unused, and the live load."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from rich.text import Text

from bntui.core.spec import MODEL_KEYS, MODEL_TITLES
from bntui.core.text import clean
from bntui.procs.gpus import gpu_position
from bntui.record.runfile import RunFile
from bntui.stats.figures import failures
from bntui.tui.widgets.fit import fit_line, flowed
from bntui.tui.widgets.text_view import RunTextView

# environment key → label, in the order shown on the CUDA line.
CUDA_FACTS = (
    ("cuda", "runtime"),
    ("cudnn", "cuDNN"),
    ("cuda_build", "TensorFlow built for"),
    ("cudnn_build", "cuDNN"),
    ("nvidia_driver", "driver"),
    ("cuda_driver", "up to CUDA"),
)


def _bytes(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n else "?"


def _users(run: RunFile, position: int) -> list[str]:
    """The models whose backend reported training on `gpu:<position>`."""
    return [key for key in MODEL_KEYS if gpu_position(run.models[key].runs_on) == position]


def _where(*parts: str) -> str:
    """` · NVML 0, PCI …`: the parts that are known, or nothing."""
    known = [part for part in parts if part]
    return " · " + ", ".join(known) if known else ""


def _gpu_line(run: RunFile, dev: Mapping[str, Any], width: int) -> Text:
    """One GPU bntui may use: name, memory, where NVML and the PCI bus find it, and which
    models train on it (what gives way first where the line is too wide: the PCI bus id,
    then NVML's number; never the models)."""
    head = (
        f"  GPU  {clean(dev.get('id'))} {clean(dev.get('name'))} · "
        f"{_bytes(int(dev.get('memory_bytes') or 0))}"
    )
    nvml = f"NVML {clean(dev.get('nvml_index'))}" if dev.get("nvml_index") is not None else ""
    pci = f"PCI {clean(dev.get('pci_bus_id'), 20)}" if dev.get("pci_bus_id") else ""
    mig = "MIG instance" if dev.get("mig_parent") else ""
    where = [_where(nvml, pci, mig), _where(nvml, mig), _where(mig)]
    position = gpu_position(str(dev.get("id", "")))
    users = _users(run, position) if position is not None else []
    marks = Text(" ← " + ", ".join(users), "bold green") if users else ""
    forms: list[list[Text | str]] = [[head], [Text(w, "dim") for w in where], [marks]]
    text = fit_line(forms, [1], width)
    text.append("\n")
    return text


class DevicePanel(RunTextView):
    """Backend and versions, the devices found, and what each model runs on."""

    def text_for(self, run: RunFile, width: int) -> Text:
        """The run's environment and devices at `width` columns (`device_text`)."""
        return device_text(run, width)


def no_device_text(run: RunFile, width: int) -> Text:
    """Before the workers report their device: waiting, or, once a model failed without a
    report, what happened instead (each failed model's reason, whole, wrapped to `width`)."""
    failed = failures(run)
    if not failed and run.status in ("pending", "running"):
        return Text("waiting for the workers to start…", "dim")
    lines = ["No device was recorded: the models failed before their workers reported one."]
    lines += [f"{MODEL_TITLES[key]} failed: {clean(why, 4000)}" for key, why in failed]
    return Text("\n".join(textwrap.fill(line, max(20, width - 1)) for line in lines))


def device_text(run: RunFile, width: int = 200) -> Text:
    """The Device tab's text: versions, devices, the unused-GPU note, runs on, live load."""
    env = run.environment
    text = Text()
    if not env:
        return no_device_text(run, width)
    backend = (
        f"keras {clean(env.get('keras'))} on {clean(env.get('backend'))} "
        f"{clean(env.get('backend_version'))}"
    )
    libs = [clean(env[key], 40) for key in ("jaxlib", "cuda_plugin") if env.get(key)]
    if env.get("jaxlib"):
        libs[0] = f"jaxlib {libs[0]}"
    versions = [backend, *libs, f"python {clean(env.get('python'))}"]
    text.append_text(flowed("Backend  ", [*versions, f"numpy {clean(env.get('numpy'))}"], width))
    cuda = [f"{label} {clean(env[key], 40)}" for key, label in CUDA_FACTS if env.get(key)]
    if cuda:
        text.append_text(flowed("CUDA     ", cuda, width))
    text.append("Devices\n", "bold")
    for dev in run.devices:
        if dev.get("kind") == "CPU":
            text.append(
                f"  CPU  {clean(dev.get('name'))} · {clean(dev.get('cores'))} cores · "
                f"{_bytes(int(dev.get('memory_bytes') or 0))} RAM\n"
            )
        else:
            text.append_text(_gpu_line(run, dev, width))
    if not any(d.get("kind") == "GPU" for d in run.devices):
        text.append("  no GPU visible to the backend\n", "dim")
    if env.get("gpu_note"):
        text.append(f"  ! {clean(env['gpu_note'])}\n", "bold yellow")
    text.append("Runs on", "bold")
    if run.spec.devices:
        choice = "--cpu" if run.spec.devices == "cpu" else f"--devices {run.spec.devices}"
        text.append(f"  ({clean(choice)})", "dim")
    text.append("\n")
    for key in MODEL_KEYS:
        where = clean(run.models[key].runs_on) or "—"
        text.append(f"  {MODEL_TITLES[key]:<16} {where}\n")
    text.append_text(system_text(run, width))
    return text


SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 20  # samples, one a second


def sparkline(values: list[float | None], top: float, width: int = SPARK_WIDTH) -> str:
    """The last `width` values as block characters, 0 to `top`."""
    return "".join(
        " " if v is None else SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))]
        for v in values[-width:]
    )


def _gpu_users(run: RunFile, nvml_index: int) -> tuple[str, list[str]]:
    """bntui's `gpu:N` for this NVML GPU (if bntui may use it) and the models on it."""
    for dev in run.devices:
        if dev.get("kind") == "GPU" and dev.get("nvml_index") == nvml_index:
            position = gpu_position(str(dev.get("id", "")))
            if position is not None:
                return f"gpu:{position}", _users(run, position)
    return "", []


def system_text(run: RunFile, width: int = 200) -> Text:
    """Live load: each worker's CPU and memory, each GPU's load (what was sampled)."""
    trace = run.system
    text = Text()
    if not trace.t:
        return text
    text.append("Live load", "bold")
    about = [
        f"  (sampled each second; bars: the last {SPARK_WIDTH} s, from 0 to the ≤ after them;"
        " CPU in % of one core)",
        f"  (bars: the last {SPARK_WIDTH} s, up to the ≤ figure; CPU: % of one core)",
    ]
    line = fit_line([about], [0], width - len("Live load"))
    line.stylize("dim")
    text.append_text(line)
    text.append("\n")
    series = trace.series
    for key in MODEL_KEYS:
        cpu = series.get(f"{key}.cpu_pct", [])
        rss = [v for v in series.get(f"{key}.rss_mb", []) if v is not None]
        if not rss:
            continue
        running = run.models[key].status in ("pending", "running")
        now: list[Text | str] = [Text("worker ended ", "dim"), Text("ended ", "dim")]
        if running and cpu and cpu[-1] is not None:
            now = [f"CPU {cpu[-1]:5.0f}% "]
        top = max([100.0, *(v for v in cpu[-SPARK_WIDTH:] if v is not None)])
        forms: list[list[Text | str]] = [
            [f"  {MODEL_TITLES[key]:<16} ", f"  {key:<6}"],
            now,
            [Text(sparkline(cpu, top), "cyan")],
            [Text(f" ≤{top:.0f}%", "dim")],
            # An ended worker's last sample may be of its exit (0): its peak says more.
            [
                f"  RSS {rss[-1] / 1024:.2f} GiB"
                if running
                else f"  peak RSS {max(rss) / 1024:.2f} GiB"
            ],
        ]
        text.append_text(fit_line(forms, [0, 1], width))
        text.append("\n")
    for tag, name in trace.gpu_names.items():
        latest = {n.split(".", 1)[1]: v[-1] for n, v in series.items() if n.startswith(tag + ".")}
        if all(v is None for v in latest.values()):
            continue  # this GPU was not in the last sample
        text.append_text(_gpu_load(run, tag, name, latest, width))
    return text


def _gpu_load(
    run: RunFile, tag: str, name: str, latest: dict[str, float | None], width: int
) -> Text:
    """One GPU's row; a figure NVML does not support on it reads as `—`. Where the line is
    too wide, the scale, the name (the Devices list above has it), the temperature, bntui's
    `gpu:N`, half the bars, each model's memory and then a quarter of the bars give way; the
    load, the GPU's memory and the models stay."""
    series = run.system.series
    label, users = _gpu_users(run, int(tag[3:] or 0)) if tag[3:].isdigit() else ("", [])
    util = latest.get("util_pct")
    bars = sparkline(series.get(f"{tag}.util_pct", []), 100.0)
    used, total = latest.get("memory_used_mb"), latest.get("memory_total_mb")
    memory = f"  mem {used / 1024:.1f}/{total / 1024:.0f} GiB" if used is not None and total else ""
    temperature = latest.get("temperature_c")
    held, names = [], []
    for key in MODEL_KEYS:
        mem = latest.get(f"{key}_mem_mb")
        if mem is not None:  # NVML lists this worker's process on this GPU
            held.append(f"{key} {mem / 1024:.1f} GiB" if mem else key)
            names.append(key)
        elif key in users:  # trains here, but NVML does not list it (now)
            ended = run.models[key].status not in ("pending", "running")
            held.append(f"{key} ended" if ended else key)
            names.append(key)
    forms: list[list[Text | str]] = [
        [f"  {tag.upper()} {clean(name, 24)} ", f"  {tag.upper()} "],
        [Text(f"= {label} ", "dim"), ""] if label else [""],
        ["util   —  " if util is None else f"util {util:3.0f}% "],
        [Text(bars[-n:], "green") for n in (SPARK_WIDTH, SPARK_WIDTH // 2, SPARK_WIDTH // 4)],
        [Text(" ≤100%", "dim"), ""],
        [memory],
        [f"  {temperature:.0f}°C", ""] if temperature is not None else [""],
        [
            Text("  ← " + ", ".join(held), "bold green"),
            Text("  ← " + ", ".join(names), "bold green"),
        ]
        if held
        else [""],
    ]
    text = fit_line(forms, [4, 0, 6, 1, (3, 1), 7, 3], width)
    text.append("\n")
    return text
