"""What a model trains on, as its backend says: the device, the card, the versions, and why
a GPU that is present goes unused.

`pinned_cores()` needs nothing heavy (the host CPU is `bntui.procs.system.host_cpu`).
`watch_backend_log()` must run before the backend is imported (JAX says why it fell back to
the CPU once, in a log record), and `backend_report()` imports the backend: both are only
called inside worker processes. `describe()` is the pure part, tested with a fake backend
device list.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bntui.procs.gpus import runs_on_gpu, unused_gpu_note
from bntui.procs.system import host_cpu

# The logger JAX's backend selection writes its "Falling back to cpu" warning to.
JAX_BACKEND_LOGGER = "jax._src.xla_bridge"
CUDA_PLUGINS = ("jax-cuda13-plugin", "jax-cuda12-plugin")


def pinned_cores() -> str:
    """` (core 0)` or ` (cores 0-3)` when this process may use only some cores, else ``."""
    try:
        mine = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return ""
    if len(mine) >= (os.cpu_count() or 1):
        return ""
    if len(mine) == 1:
        return f" (core {mine[0]})"
    if mine == list(range(mine[0], mine[-1] + 1)):
        return f" (cores {mine[0]}-{mine[-1]})"
    return f" (cores {','.join(map(str, mine))})"


class BackendLog(logging.Handler):
    """Keeps what the backend logs about accelerators it could not start."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the message (instead of letting it vanish into the worker's stderr)."""
        self.messages.append(record.getMessage())

    def said(self) -> str:
        """The latest message about a GPU or CUDA, without its final full stop."""
        for message in reversed(self.messages):
            if "GPU" in message or "CUDA" in message:
                return message.strip().rstrip(".")
        return ""


def watch_backend_log() -> BackendLog:
    """Start keeping JAX's backend warnings; call before the backend is imported."""
    handler = BackendLog()
    logging.getLogger(JAX_BACKEND_LOGGER).addHandler(handler)
    return handler


def describe(
    backend: str,
    trained: tuple[str, int, str],
    backend_gpus: list[tuple[int, str]],
    job: dict[str, Any],
    reason: str = "",
    fix: str = "",
) -> tuple[list[dict[str, Any]], str, str]:
    """Devices, `runs_on` and the unused-GPU note for a model the backend placed on
    `trained` = (platform, device id, device kind).

    The GPUs listed are those bntui may use, with NVML's facts (`job["gpus"]`); without
    NVML, those the backend sees (`backend_gpus`: id and kind each), memory unknown.
    """
    kind, device_id, device_kind = trained
    on_gpu = kind == "gpu"
    gpus: list[dict[str, Any]] = [{"kind": "GPU", **gpu} for gpu in job.get("gpus") or []]
    if not gpus:
        gpus = [
            {"kind": "GPU", "id": f"gpu:{i}", "name": name, "memory_bytes": 0}
            for i, name in backend_gpus
        ]
    mine = job.get("gpu")
    if on_gpu and mine:  # the worker sees only its own card: the backend's GPU is this one
        runs_on = runs_on_gpu(mine["id"], mine["name"], int(mine.get("memory_bytes") or 0))
    elif on_gpu:  # no NVML: the backend's own name for it (TensorFlow's variables lack one)
        runs_on = runs_on_gpu(f"gpu:{device_id}", dict(backend_gpus).get(device_id, device_kind), 0)
    else:
        runs_on = "CPU" + pinned_cores()
    return [host_cpu(), *gpus], runs_on, unused_gpu_note(job, on_gpu, backend, reason, fix)


def backend_report(
    backend: str, model: Any, log: BackendLog, job: dict[str, Any]
) -> tuple[list[dict[str, Any]], str, dict[str, str]]:
    """Devices, `runs_on` and the environment's device entries, from the backend itself."""
    trained = model_device(model, backend)
    if backend == "jax":
        import jax

        gpus = [(d.id, str(d.device_kind)) for d in jax.devices() if d.platform == "gpu"]
        reason, fix = _jax_reason(log) if trained[0] != "gpu" else ("", "")
    else:
        import tensorflow as tf

        gpus = [
            (i, str(tf.config.experimental.get_device_details(d).get("device_name", d.name)))
            for i, d in enumerate(tf.config.list_physical_devices("GPU"))
        ]
        reason, fix = _tf_reason() if trained[0] != "gpu" else ("", "")
    devices, runs_on, note = describe(backend, trained, gpus, job, reason, fix)
    environment = {"platform": trained[0], "os": platform.platform(terse=True)}
    environment.update(backend_versions(backend, trained[0] == "gpu"))
    if job.get("nvidia_driver"):
        environment["nvidia_driver"] = str(job["nvidia_driver"])
    if note:
        environment["gpu_note"] = note
    return devices, runs_on, environment


def model_device(model: Any, backend: str) -> tuple[str, int, str]:
    """(platform, id, kind) of the device holding the model's first weight: where it trains."""
    value = model.weights[0].value
    if backend == "jax":
        device = next(iter(value.devices()))
        return str(device.platform), int(device.id), str(device.device_kind)
    # TensorFlow names it: /job:localhost/replica:0/task:0/device:GPU:0
    name = str(getattr(value, "device", "")).rsplit("device:", 1)[-1]
    kind, _, number = name.partition(":")
    return ("gpu" if kind.upper() == "GPU" else "cpu"), int(number or 0), kind


def backend_versions(backend: str, on_gpu: bool) -> dict[str, str]:
    """jaxlib, the CUDA plugin and the CUDA/cuDNN it loaded; TensorFlow's CUDA build."""
    found: dict[str, str] = {}
    if backend == "jax":
        found["jaxlib"] = _dist_version("jaxlib")
        for dist in CUDA_PLUGINS:
            if _dist_version(dist):
                found["cuda_plugin"] = f"{dist} {_dist_version(dist)}"
                break
        if on_gpu:
            found.update(_jax_cuda_versions())
    else:
        import tensorflow as tf

        info = tf.sysconfig.get_build_info()
        if info.get("is_cuda_build"):
            found["cuda_build"] = str(info.get("cuda_version", "?"))
            found["cudnn_build"] = str(info.get("cudnn_version", "?"))
    return {key: value for key, value in found.items() if value}


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def _jax_cuda_versions() -> dict[str, str]:
    # The versions the CUDA plugin loaded (JAX checks them the same way at start-up).
    try:
        from jax._src.lib import cuda_versions
    except ImportError:
        return {}
    found = {}
    for key, name, cudnn in (
        ("cuda", "cuda_runtime_get_version", False),
        ("cudnn", "cudnn_get_version", True),
        ("cuda_driver", "cuda_driver_get_version", False),
    ):
        try:
            number = int(getattr(cuda_versions, name)())
        except Exception:  # the library is missing or too old: that version is unknown
            continue
        found[key] = (
            f"{number // 10000}.{number % 10000 // 100}.{number % 100}"
            if cudnn
            else f"{number // 1000}.{number % 1000 // 10}"
        )
    return found


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def fix_command(backend: str) -> str:
    """The command that installs the CUDA build: the README's GPU set-up line for this tree."""
    python = shlex.quote(sys.executable)
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return f"{python} -m pip install -e {shlex.quote(str(root) + '[cuda]')}"
    if backend == "jax":
        return f"{python} -m pip install 'jax[cuda12]=={_dist_version('jax')}'"
    return f"{python} -m pip install 'tensorflow[and-cuda]=={_dist_version('tensorflow')}'"


def _jax_reason(log: BackendLog) -> tuple[str, str]:
    platforms = os.environ.get("JAX_PLATFORMS", "")
    if platforms and not {"cuda", "gpu"} & {p.strip() for p in platforms.split(",")}:
        return f"JAX_PLATFORMS={platforms} keeps JAX off the GPU", "unset JAX_PLATFORMS"
    said = log.said()
    if not any(_has_module(name.replace("-", "_")) for name in CUDA_PLUGINS):
        return said or "the installed jaxlib is CPU-only (no CUDA plugin)", fix_command("jax")
    try:  # the plugin is there but failed: JAX kept its error (a private table)
        from jax._src import xla_bridge

        said = said or str(xla_bridge._backend_errors.get("cuda", ""))
    except Exception:
        pass
    return said or "the CUDA plugin found no usable GPU", "check the driver with nvidia-smi"


def _tf_reason() -> tuple[str, str]:
    import tensorflow as tf

    if not tf.sysconfig.get_build_info().get("is_cuda_build"):
        return "this TensorFlow is built without CUDA", fix_command("tensorflow")
    if not _has_module("nvidia.cudnn"):
        return (
            "TensorFlow's CUDA libraries (the nvidia-* wheels of tensorflow[and-cuda]) are "
            "not installed, so it skips the GPU",
            fix_command("tensorflow"),
        )
    return (
        "TensorFlow found no usable GPU although its CUDA libraries are installed",
        "check the driver with nvidia-smi",
    )
