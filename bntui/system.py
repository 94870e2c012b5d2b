"""Live system figures: CPU and memory of each worker, and each GPU's load via NVML.

Sampled in the bntui process (never in a worker), about once a second. Hardware that is
absent (no NVIDIA driver, no nvidia-ml-py) is simply left out.
"""

from __future__ import annotations

from typing import Any

import psutil

SAMPLE_EVERY_S = 1.0


class GpuMonitor:
    """NVML, if this machine has it: utilization, memory and temperature per GPU."""

    def __init__(self) -> None:
        self.nvml: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.count = int(pynvml.nvmlDeviceGetCount())
        except Exception:  # no driver, no library, no permission: no GPU figures
            self.nvml = None
            self.count = 0

    def sample(self) -> list[dict[str, Any]]:
        """One reading per GPU (empty without NVML)."""
        gpus = []
        for index in range(self.count):
            try:
                nv = self.nvml
                handle = nv.nvmlDeviceGetHandleByIndex(index)
                util = nv.nvmlDeviceGetUtilizationRates(handle)
                memory = nv.nvmlDeviceGetMemoryInfo(handle)
                name = nv.nvmlDeviceGetName(handle)
                gpus.append(
                    {
                        "index": index,
                        "name": name.decode() if isinstance(name, bytes) else str(name),
                        "util_pct": float(util.gpu),
                        "memory_used_mb": memory.used / 2**20,
                        "memory_total_mb": memory.total / 2**20,
                        "temperature_c": float(
                            nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU)
                        ),
                    }
                )
            except Exception:  # a GPU that stops answering is skipped, not fatal
                continue
        return gpus


class WorkerMonitor:
    """CPU (% of one core) and resident memory of each worker process."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.processes: dict[str, psutil.Process] = {}
        for key, pid in pids.items():
            try:
                process = psutil.Process(pid)
                process.cpu_percent(None)  # starts the measurement interval
                self.processes[key] = process
            except psutil.Error:
                continue

    def sample(self) -> dict[str, dict[str, float]]:
        """CPU % since the last sample and RSS in MB, per model; gone workers are left out."""
        figures = {}
        for key, process in self.processes.items():
            try:
                with process.oneshot():
                    figures[key] = {
                        "cpu_pct": round(process.cpu_percent(None), 1),
                        "rss_mb": round(process.memory_info().rss / 2**20, 1),
                    }
            except psutil.Error:
                continue
        return figures
