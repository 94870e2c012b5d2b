"""Live system figures: CPU and memory of each worker, and each GPU's load via NVML.

Sampled in the bntui process (never in a worker), about once a second. Hardware that is
absent (no NVIDIA driver, no nvidia-ml-py) is simply left out, and so is any one NVML
figure a GPU does not support (MIG instances, some consumer cards): the rest of its row
stays. NVML numbers GPUs in PCI bus order and ignores CUDA_VISIBLE_DEVICES; `cards()` is
the inventory that `bntui.procs.gpus` maps the user's CUDA_VISIBLE_DEVICES onto.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bntui.procs.gpus import Card

if TYPE_CHECKING:
    import psutil

SAMPLE_EVERY_S = 1.0

# What a machine whose NVIDIA driver is loaded has: its control device, the driver's /proc
# folder, or (WSL 2, where NVML reaches the Windows driver) the DirectX device.
NVIDIA_DRIVER_SIGNS = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg")


def no_nvidia_driver(signs: tuple[str, ...] = NVIDIA_DRIVER_SIGNS) -> bool:
    """True on Linux when no NVIDIA driver is loaded, so NVML cannot start: then pynvml is
    not imported at all (10-15 ms, before a run's workers are spawned). Elsewhere False."""
    return platform.system() == "Linux" and not any(os.path.exists(sign) for sign in signs)


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


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class GpuMonitor:
    """NVML, if this machine has it: the GPUs, and their utilization, memory and temperature.

    `nvml` is the pynvml module (tests hand in a fake one); by default it is imported.
    """

    def __init__(self, nvml: Any = None) -> None:
        self.nvml: Any = None
        self.count = 0
        if nvml is None and no_nvidia_driver():
            return
        try:
            if nvml is None:
                import pynvml

                nvml = pynvml
            nvml.nvmlInit()
            self.count = int(nvml.nvmlDeviceGetCount())
            self.nvml = nvml
        except Exception:  # no driver, no library, no permission: no GPU figures
            self.nvml = None
            self.count = 0

    def _get(self, call: Callable[..., Any], *args: Any) -> Any:
        """One NVML figure, or None when this GPU does not support it (or stops answering)."""
        try:
            return call(*args)
        except Exception:  # NVMLError_NotSupported and friends: that figure is absent
            return None

    def cards(self) -> list[Card]:
        """Every GPU NVML sees, with its MIG instances after it (empty without NVML)."""
        nv = self.nvml
        found: list[Card] = []
        for index in range(self.count):
            handle = self._get(nv.nvmlDeviceGetHandleByIndex, index) if nv else None
            if handle is None:
                continue
            card = self._card(index, handle, "")
            found.append(card)
            mode = self._get(nv.nvmlDeviceGetMigMode, handle)
            if not mode or not mode[0]:
                continue
            for slot in range(self._get(nv.nvmlDeviceGetMaxMigDeviceCount, handle) or 0):
                mig = self._get(nv.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
                if mig is not None:
                    found.append(self._card(index, mig, card.uuid, card.pci_bus_id))
        return found

    def _card(self, index: int, handle: Any, parent: str, pci: str = "") -> Card:
        nv = self.nvml
        memory = self._get(nv.nvmlDeviceGetMemoryInfo, handle)
        if not pci:
            info = self._get(nv.nvmlDeviceGetPciInfo, handle)
            pci = _text(info.busId) if info is not None else ""
        return Card(
            nvml_index=index,
            uuid=_text(self._get(nv.nvmlDeviceGetUUID, handle) or ""),
            name=_text(self._get(nv.nvmlDeviceGetName, handle) or "GPU"),
            memory_bytes=int(memory.total) if memory is not None else 0,
            pci_bus_id=pci,
            mig_parent=parent,
        )

    def driver_version(self) -> str:
        """The NVIDIA driver's version (`570.86.15`), or `` without NVML."""
        if self.nvml is None:
            return ""
        return _text(self._get(self.nvml.nvmlSystemGetDriverVersion) or "")

    def sample(self, pids: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """One reading per GPU (empty without NVML); unsupported figures are left out.

        With `pids` (model → worker process id), each GPU also gets `<model>_mem_mb`, the
        GPU memory NVML says that worker holds on it: which GPUs the workers really use.
        """
        gpus = []
        nv = self.nvml
        for index in range(self.count):
            handle = self._get(nv.nvmlDeviceGetHandleByIndex, index)
            if handle is None:  # a GPU that stops answering is skipped, not fatal
                continue
            reading: dict[str, Any] = {
                "index": index,
                "name": _text(self._get(nv.nvmlDeviceGetName, handle) or "GPU"),
            }
            util = self._get(nv.nvmlDeviceGetUtilizationRates, handle)
            if util is not None:
                reading["util_pct"] = float(util.gpu)
            memory = self._get(nv.nvmlDeviceGetMemoryInfo, handle)
            if memory is not None:
                reading["memory_used_mb"] = memory.used / 2**20
                reading["memory_total_mb"] = memory.total / 2**20
            temperature = self._get(nv.nvmlDeviceGetTemperature, handle, nv.NVML_TEMPERATURE_GPU)
            if temperature is not None:
                reading["temperature_c"] = float(temperature)
            reading.update(self._worker_memory(handle, pids or {}))
            gpus.append(reading)
        return gpus

    def _worker_memory(self, handle: Any, pids: dict[str, int]) -> dict[str, float]:
        if not pids:
            return {}
        processes = self._get(self.nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
        owners = {pid: key for key, pid in pids.items()}
        held: dict[str, float] = {}
        for process in processes:
            key = owners.get(int(getattr(process, "pid", -1)))
            if key is not None:
                # usedGpuMemory is None where the driver will not say (e.g. some containers).
                used = getattr(process, "usedGpuMemory", None)
                held[f"{key}_mem_mb"] = (used or 0) / 2**20
        return held


class WorkerMonitor:
    """CPU (% of one core) and resident memory of each worker process."""

    def __init__(self, pids: dict[str, int]) -> None:
        # Imported here, not at the top: a training worker imports this module for
        # `host_cpu` only, and psutil is 15 ms of its start.
        import psutil

        self.processes: dict[str, psutil.Process] = {}
        for key, pid in pids.items():
            try:
                process = psutil.Process(pid)
                process.cpu_percent(None)  # starts the measurement interval
                self.processes[key] = process
            except psutil.Error:
                continue

    def sample(self) -> dict[str, dict[str, float]]:
        """CPU % since the last sample and RSS in MB, per model; gone workers are left out,
        also one that has exited but is not yet reaped (its RSS would read 0)."""
        import psutil

        figures = {}
        for key, process in self.processes.items():
            try:
                with process.oneshot():
                    if process.status() == psutil.STATUS_ZOMBIE:
                        continue
                    figures[key] = {
                        "cpu_pct": round(process.cpu_percent(None), 1),
                        "rss_mb": round(process.memory_info().rss / 2**20, 1),
                    }
            except psutil.Error:
                continue
        return figures
