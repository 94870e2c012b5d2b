"""The live GPU sampler against a fake `pynvml`: unsupported figures are absent, not the row;
the workers' GPUs are marked; the Device tab shows it all (recorded, then replayed). Where no
NVIDIA driver is loaded, NVML is not asked at all."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest
from fake_nvml import H200, FakeGpu, FakeNvml

from bntui.core.events import ModelReady, SystemSample
from bntui.core.spec import ExperimentSpec
from bntui.procs.gpus import plan_devices, runs_on_gpu, slot_job
from bntui.procs.system import GpuMonitor, no_nvidia_driver
from bntui.record.recorder import RunRecorder
from bntui.record.replay import events_from_run
from bntui.tui.widgets.device_panel import device_text

PLAIN_PID, BN_PID, OTHER_PID = 4101, 4102, 999
SUMMARY = {"layers": [], "total_params": 10, "trainable_params": 10, "non_trainable_params": 0}


def box() -> FakeNvml:
    # GPU 0: someone else's job. GPU 1: a consumer card that will not report utilization or
    # temperature, training the plain model. GPU 2: training the BN model.
    return FakeNvml(
        [
            FakeGpu("NVIDIA H200", "GPU-0000", "00000000:18:00.0", H200, 30 * 2**30, 97, 70,
                    processes=[(OTHER_PID, 30 * 2**30)]),
            FakeGpu("NVIDIA GeForce RTX 4090", "GPU-1111", "00000000:3B:00.0", 24 * 2**30,
                    3 * 2**30, processes=[(PLAIN_PID, 1536 * 2**20)],
                    unsupported={"util", "temperature"}),
            FakeGpu("NVIDIA H200", "GPU-2222", "00000000:86:00.0", H200, 2**30, 55, 48,
                    processes=[(BN_PID, None)]),  # the driver will not say how much
        ]
    )  # fmt: skip


def test_unsupported_figures_are_absent_not_the_row() -> None:
    monitor = GpuMonitor(nvml=box())
    rows = monitor.sample({"plain": PLAIN_PID, "bn": BN_PID})
    assert [row["index"] for row in rows] == [0, 1, 2]
    consumer = rows[1]
    assert consumer["name"] == "NVIDIA GeForce RTX 4090"
    assert "util_pct" not in consumer and "temperature_c" not in consumer
    assert consumer["memory_used_mb"] == 3 * 1024 and consumer["memory_total_mb"] == 24 * 1024
    assert consumer["plain_mem_mb"] == 1536 and "bn_mem_mb" not in consumer
    assert rows[0]["util_pct"] == 97.0 and rows[0]["temperature_c"] == 70.0
    assert not any(key.endswith("_mem_mb") for key in rows[0])  # not our process
    assert rows[2]["bn_mem_mb"] == 0  # listed, amount unknown
    assert monitor.driver_version() == "570.86.15"


def test_a_gpu_that_stops_answering_is_skipped() -> None:
    nvml = box()
    nvml.gpus[0].unsupported.add("handle")
    nvml.gpus[2].unsupported.add("processes")
    rows = GpuMonitor(nvml=nvml).sample({"plain": PLAIN_PID, "bn": BN_PID})
    assert [row["index"] for row in rows] == [1, 2]
    assert "bn_mem_mb" not in rows[1] and rows[1]["util_pct"] == 55.0


def test_no_nvml_no_figures() -> None:
    class Broken:
        def nvmlInit(self) -> None:
            raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    monitor = GpuMonitor(nvml=Broken())
    assert monitor.nvml is None and monitor.cards() == [] and monitor.sample() == []
    assert monitor.driver_version() == ""


def test_device_tab_marks_the_workers_gpus() -> None:
    monitor = GpuMonitor(nvml=box())
    plan = plan_devices("1,2", monitor.cards(), None)  # bntui was given GPUs 1 and 2
    recorder = RunRecorder(ExperimentSpec())
    for key in ("plain", "bn"):
        job = slot_job(plan, key)
        gpu = job["gpu"]
        recorder.apply(
            ModelReady(
                model=key,
                t=1.0,
                summary=SUMMARY,
                environment={"keras": "3.15.1", "backend": "jax", "platform": "gpu",
                             "jaxlib": "0.10.2", "cuda_plugin": "jax-cuda12-plugin 0.10.2",
                             "cuda": "12.9", "cudnn": "9.28.0", "nvidia_driver": "570.86.15"},
                devices=[{"kind": "CPU", "name": "EPYC", "cores": 64, "memory_bytes": 2**40},
                         *({"kind": "GPU", **g} for g in job["gpus"])],
                runs_on=runs_on_gpu(gpu["id"], gpu["name"], gpu["memory_bytes"]),
            )
        )  # fmt: skip
    for t in (2.0, 3.0):
        gpus = monitor.sample({"plain": PLAIN_PID, "bn": BN_PID})
        recorder.apply(SystemSample(model="system", t=t, gpus=gpus))
    run = recorder.run
    assert run.models["plain"].runs_on == "gpu:0 (NVIDIA GeForce RTX 4090, 24.0 GiB)"
    assert run.models["bn"].runs_on == "gpu:1 (NVIDIA H200, 139.8 GiB)"
    text = device_text(run).plain
    assert "jaxlib 0.10.2 · jax-cuda12-plugin 0.10.2" in text
    assert "CUDA     runtime 12.9 · cuDNN 9.28.0 · driver 570.86.15" in text
    assert (
        "GPU  gpu:0 NVIDIA GeForce RTX 4090 · 24.0 GiB · NVML 1, PCI 00000000:3B:00.0 ← plain"
        in text
    )
    assert "GPU  gpu:1 NVIDIA H200 · 139.8 GiB · NVML 2, PCI 00000000:86:00.0 ← bn" in text
    assert "no GPU visible" not in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  GPU")}
    assert "= gpu:0" in lines["GPU1"] and "util   —" in lines["GPU1"]
    assert "mem 3.0/24 GiB" in lines["GPU1"] and "°C" not in lines["GPU1"]
    assert lines["GPU1"].endswith("← plain 1.5 GiB")
    assert lines["GPU2"].endswith("← bn") and "util  55%" in lines["GPU2"]
    assert "GPU0" in lines and "←" not in lines["GPU0"] and "= gpu" not in lines["GPU0"]
    # A replay of the saved run draws the same marks.
    replayed = RunRecorder(run.spec)
    for event in events_from_run(run):
        replayed.apply(event)
    assert device_text(replayed.run).plain == text


def test_nvml_is_not_loaded_where_no_nvidia_driver_is(tmp_path: Path) -> None:
    present = tmp_path / "nvidiactl"
    present.touch()
    absent = (str(tmp_path / "dxg"), str(tmp_path / "nvidia"))
    on_linux = platform.system() == "Linux"
    assert no_nvidia_driver(absent) is on_linux
    assert no_nvidia_driver((*absent, str(present))) is False
    # This machine, in a fresh interpreter: without a driver pynvml is not even imported.
    probe = (
        "import sys; from bntui.procs.system import GpuMonitor, no_nvidia_driver; "
        "monitor = GpuMonitor(); "
        "print(no_nvidia_driver(), 'pynvml' in sys.modules, monitor.count, monitor.nvml)"
    )
    seen = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    if seen[0] == "False":
        pytest.skip("this machine has an NVIDIA driver: NVML is asked")
    assert seen == ["True", "False", "0", "None"]
