"""The worker side of the Ray executor: the task each cell runs in a Ray worker process, on
whichever node. It runs `call(job, progress)` in a thread and yields where it runs, its
progress (at most every 0.25 s) and then its result or a one-line error; a CPU cell first
takes a core of its node that no other cell holds and pins the whole process to it.
"""

from __future__ import annotations

import os
import platform
import queue
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bntui.procs.affinity import pin_every_thread
from bntui.procs.scheduler import error_line
from bntui.procs.supervisor import compile_cache_dir
from bntui.procs.system import host_cpu

Call = Callable[[Any, Callable[[float], None]], Any]
PROGRESS_EVERY_S = 0.25
# What a worker reports in the claims file: the versions its results came from.
VERSIONS = ("bntui", "ray", "keras", "jax", "jaxlib", "numpy")

_NODE_CORES: list[int] | None = None


def cpu_cell(call: Call, job: Any, pin: bool) -> Iterator[tuple[Any, ...]]:
    """A CPU cell's task (see `_cell_task`)."""
    yield from _cell_task(call, job, pin)


def gpu_cell(call: Call, job: Any, pin: bool) -> Iterator[tuple[Any, ...]]:
    """A GPU cell's task: the same, declared apart so that Ray gives it workers of its own."""
    yield from _cell_task(call, job, pin)


def _cell_task(call: Call, job: Any, pin: bool) -> Iterator[tuple[Any, ...]]:
    """A Ray generator task: where it runs, its progress, then ("ok", result, where) or
    ("error", one line, where)."""
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(compile_cache_dir()))
    core, lock = _take_core() if pin else (None, None)
    try:
        yield ("started", _where(core, ended=False))
        updates: queue.Queue[tuple[str, Any]] = queue.Queue()
        last = [0.0]

        def progress(fraction: float) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                last[0] = time.monotonic()
                updates.put(("progress", fraction))

        def run() -> None:
            try:
                updates.put(("ok", call(job, progress)))
            except Exception as exc:  # the job failed; the worker lives on
                updates.put(("error", error_line(exc)))

        threading.Thread(target=run, daemon=True).start()
        while True:
            kind, value = updates.get()
            if kind != "progress":
                yield (kind, value, _where(core))
                return
            yield (kind, value)
    finally:
        if lock is not None:
            os.close(lock)


def _take_core() -> tuple[int | None, int | None]:
    """Pin this worker process (every thread) to a core of its node that no other cell holds
    (a lock file per core, released when the cell ends or the process dies); (None, None)
    when every core is taken (the node lends Ray more CPUs than it has)."""
    import fcntl

    global _NODE_CORES
    if _NODE_CORES is None:  # before the first pin: the cores the node lends this worker
        _NODE_CORES = sorted(os.sched_getaffinity(0))
    folder = Path(tempfile.gettempdir()) / f"bntui-cores-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    for core in _NODE_CORES:
        fd = os.open(folder / f"core-{core}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        pin_every_thread({core})
        return core, fd
    return None, None


def _where(core: int | None, ended: bool = True) -> dict[str, Any]:
    """The node, the device and the versions this worker has (the claims file's `where`);
    which device the backend used is known once the cell has `ended`."""
    import ray

    context = ray.get_runtime_context()
    gpus = ",".join(context.get_accelerator_ids().get("GPU", []))
    device = f"GPU {gpus}" if gpus else ""
    if gpus and ended:
        used = _backend_device()
        device = (
            f"{used} (GPU {gpus}, a half share)"
            if used
            else f"the CPU: Ray lent GPU {gpus}, but the backend found no GPU"
        )
    if not device:
        pinned = "unpinned" if core is None else f"core {core}"
        device = f"{host_cpu()['name']} (CPU, {pinned})"
    versions = {"python": platform.python_version()}
    for package in VERSIONS:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    node = f"{socket.gethostname()} (Ray node {context.get_node_id()[:12]})"
    return {"node": node, "device": device, "versions": versions}


def _backend_device() -> str | None:
    """The GPU JAX trained on, by name; None when it ran on the CPU (or never started)."""
    jax = sys.modules.get("jax")  # loaded by the cell (never imported here)
    try:
        device = jax.devices()[0] if jax is not None else None
    except RuntimeError:
        return None
    return str(device.device_kind) if device is not None and device.platform == "gpu" else None
