"""A stand-in for the `pynvml` module: GPUs described as data, unsupported calls raising
`NVMLError_NotSupported` as NVML does on MIG instances and some consumer cards."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


class NVMLError(Exception):
    """pynvml's base error."""


class NVMLError_NotSupported(NVMLError):
    """What NVML raises for a figure the device does not report."""


@dataclass
class FakeGpu:
    name: str
    uuid: str
    pci_bus_id: str = "00000000:00:00.0"
    total: int = 80 * 2**30
    used: int = 2**30
    util: int = 0
    temperature: int = 40
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, bytes)
    unsupported: set[str] = field(default_factory=set)  # e.g. {"util", "temperature"}
    mig: list[FakeGpu] = field(default_factory=list)


class FakeNvml:
    """Module-like, with pynvml's function names: hand it to `GpuMonitor(nvml=...)`."""

    NVML_TEMPERATURE_GPU = 0
    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported

    def __init__(self, gpus: list[FakeGpu], driver: str = "570.86.15") -> None:
        self.gpus = gpus
        self.driver = driver

    def _check(self, gpu: FakeGpu, figure: str) -> None:
        if figure in gpu.unsupported:
            raise NVMLError_NotSupported(figure)

    def nvmlInit(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        gpu = self.gpus[index]
        self._check(gpu, "handle")
        return gpu

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> bytes:
        return gpu.name.encode()  # older pynvml returns bytes

    def nvmlDeviceGetUUID(self, gpu: FakeGpu) -> str:
        return gpu.uuid

    def nvmlDeviceGetPciInfo(self, gpu: FakeGpu) -> Any:
        self._check(gpu, "pci")
        return SimpleNamespace(busId=gpu.pci_bus_id.encode())

    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGpu) -> Any:
        self._check(gpu, "memory")
        return SimpleNamespace(total=gpu.total, used=gpu.used, free=gpu.total - gpu.used)

    def nvmlDeviceGetUtilizationRates(self, gpu: FakeGpu) -> Any:
        self._check(gpu, "util")
        return SimpleNamespace(gpu=gpu.util, memory=0)

    def nvmlDeviceGetTemperature(self, gpu: FakeGpu, sensor: int) -> int:
        self._check(gpu, "temperature")
        return gpu.temperature

    def nvmlDeviceGetComputeRunningProcesses(self, gpu: FakeGpu) -> list[Any]:
        self._check(gpu, "processes")
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.processes]

    def nvmlDeviceGetMigMode(self, gpu: FakeGpu) -> list[int]:
        if not gpu.mig:
            raise NVMLError_NotSupported("mig")
        return [1, 1]

    def nvmlDeviceGetMaxMigDeviceCount(self, gpu: FakeGpu) -> int:
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, gpu: FakeGpu, index: int) -> FakeGpu:
        if index >= len(gpu.mig):
            raise NVMLError("not found")
        return gpu.mig[index]


H200 = 150_150_000_000  # bytes NVML reports for an H200 (139.8 GiB)


def eight_gpu_box() -> FakeNvml:
    """Eight H200s, PCI bus order, as `nvidia-smi -L` would list them."""
    return FakeNvml(
        [
            FakeGpu("NVIDIA H200", f"GPU-{i}aaaaaaa-0000-0000-0000-00000000000{i}",
                    f"00000000:{0x18 + i:02X}:00.0", total=H200)
            for i in range(8)
        ]
    )  # fmt: skip
