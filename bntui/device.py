"""What the models train on: the CPU (model, cores, memory) and any GPUs the backend sees.

`host_cpu()` needs nothing heavy; `backend_devices()` imports the backend and is only
called inside worker processes.
"""

from __future__ import annotations

import os
import platform
from typing import Any


def host_cpu() -> dict[str, Any]:
    """The CPU's model name, cores and total memory."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    # The machine's cores, not this process's share: a worker is pinned to its own.
    cores = os.cpu_count() or 1
    memory = 0
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    return {"kind": "CPU", "name": name, "cores": cores, "memory_bytes": memory}


def backend_devices(backend: str) -> tuple[list[dict[str, Any]], str]:
    """The accelerators the Keras backend sees, and the device it will train on."""
    gpus: list[dict[str, Any]] = []
    if backend == "jax":
        import jax

        for dev in jax.devices():
            if dev.platform == "gpu":
                stats = dev.memory_stats() or {}
                gpus.append(
                    {
                        "kind": "GPU",
                        "name": dev.device_kind,
                        "id": f"gpu:{dev.id}",
                        "memory_bytes": int(stats.get("bytes_limit", 0)),
                    }
                )
    else:
        import tensorflow as tf

        for i, dev in enumerate(tf.config.list_physical_devices("GPU")):
            details = tf.config.experimental.get_device_details(dev)
            gpus.append(
                {
                    "kind": "GPU",
                    "name": details.get("device_name", dev.name),
                    "id": f"gpu:{i}",
                    "memory_bytes": 0,
                }
            )
    runs_on = f"{gpus[0]['id']} ({gpus[0]['name']})" if gpus else "CPU"
    if not gpus:
        runs_on += pinned_cores()
    return [host_cpu(), *gpus], runs_on


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
