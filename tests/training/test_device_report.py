"""Where a model trains, as its backend says, and the note when NVML sees a GPU the backend
does not use (fake NVML; fake backend device lists; the real CPU backend)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_nvml import eight_gpu_box

from bntui.core.events import ModelReady
from bntui.outputs.headless import event_line
from bntui.procs.gpus import plan_devices, slot_job
from bntui.procs.system import GpuMonitor
from bntui.record.runfile import RunFile
from bntui.training.device import (
    JAX_BACKEND_LOGGER,
    BackendLog,
    backend_report,
    describe,
    fix_command,
    watch_backend_log,
)

JAX_SAYS = (
    "An NVIDIA GPU may be present on this machine, but a CUDA-enabled jaxlib is not "
    "installed. Falling back to cpu."
)


def job(cuda_visible: str | None, devices: str | None = None, which: str = "plain") -> dict:
    cards = GpuMonitor(nvml=eight_gpu_box()).cards()
    return slot_job(plan_devices(cuda_visible, cards, devices), which)


@pytest.fixture
def backend_log() -> Iterator[BackendLog]:
    log = watch_backend_log()
    yield log
    logging.getLogger(JAX_BACKEND_LOGGER).removeHandler(log)


def test_gpu_present_but_unused_says_why_and_how_to_fix() -> None:
    devices, runs_on, note = describe(
        "jax", ("cpu", 0, "cpu"), [], job("3,5"), JAX_SAYS.rstrip("."), "FIX"
    )
    assert runs_on.startswith("CPU")
    assert note == (
        "gpu:0 NVIDIA H200 is present but jax trains on the CPU: An NVIDIA GPU may be present "
        "on this machine, but a CUDA-enabled jaxlib is not installed. Falling back to cpu. "
        "Fix: FIX"
    )
    gpus = [d for d in devices if d["kind"] == "GPU"]
    assert [(g["id"], g["nvml_index"]) for g in gpus] == [("gpu:0", 3), ("gpu:1", 5)]
    assert all(g["memory_bytes"] == 150_150_000_000 for g in gpus)  # the card's, from NVML


def test_on_the_gpu_no_note_and_the_card_named() -> None:
    # The BN worker sees only physical GPU 5; its backend calls it gpu 0.
    _, runs_on, note = describe(
        "jax", ("gpu", 0, "NVIDIA H200"), [(0, "NVIDIA H200")], job("3,5", which="bn")
    )
    assert runs_on == "gpu:1 (NVIDIA H200, 139.8 GiB)" and note == ""


def test_cpu_forced_and_empty_allocation_notes() -> None:
    _, _, forced = describe("jax", ("cpu", 0, "cpu"), [], job("3,5", "cpu"))
    assert forced == "--cpu: the 8 NVIDIA GPUs here are not used"
    _, _, empty = describe("tensorflow", ("cpu", 0, "CPU"), [], job(""))
    assert empty == "the 8 NVIDIA GPUs here are not used: CUDA_VISIBLE_DEVICES='' gives bntui none"


def test_without_nvml_the_backends_own_list() -> None:
    devices, runs_on, note = describe("tensorflow", ("gpu", 0, "GPU"), [(0, "Tesla T4")], {})
    assert runs_on == "gpu:0 (Tesla T4)" and note == ""
    assert devices[1] == {"kind": "GPU", "id": "gpu:0", "name": "Tesla T4", "memory_bytes": 0}
    devices, runs_on, note = describe("jax", ("cpu", 0, "cpu"), [], {})
    assert [d["kind"] for d in devices] == ["CPU"] and note == ""


def test_jax_fallback_warning_is_captured(backend_log: BackendLog) -> None:
    xla_bridge = pytest.importorskip("jax._src.xla_bridge")
    assert xla_bridge.logger.name == JAX_BACKEND_LOGGER  # where JAX really says it
    logging.getLogger(JAX_BACKEND_LOGGER).warning(JAX_SAYS)
    assert backend_log.said() == JAX_SAYS.rstrip(".")


def test_real_cpu_backend_with_gpus_present(
    backend_log: BackendLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine's CPU-only jaxlib, on a box whose NVML (faked) shows eight H200s."""
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the JAX backend is not the one loaded")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    placement = {**job("3,5"), "nvidia_driver": "570.86.15"}
    devices, runs_on, environment = backend_report("jax", model, backend_log, placement)
    if environment["platform"] == "gpu":
        pytest.skip("this machine's JAX has a GPU")
    assert runs_on.startswith("CPU") and len(devices) == 3
    assert environment["nvidia_driver"] == "570.86.15" and environment["jaxlib"]
    note = environment["gpu_note"]
    assert note.startswith("gpu:0 NVIDIA H200 is present but jax trains on the CPU: ")
    assert note.endswith("Fix: " + fix_command("jax"))
    assert "[cuda]" in fix_command("jax") and "pip install" in fix_command("jax")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    _, _, environment = backend_report("jax", model, backend_log, placement)
    assert environment["gpu_note"].endswith(
        "JAX_PLATFORMS=cpu keeps JAX off the GPU. Fix: unset JAX_PLATFORMS"
    )


def test_tensorflow_without_its_cuda_libraries() -> None:
    pytest.importorskip("tensorflow")
    from bntui.training.device import _has_module, _tf_reason

    if _has_module("nvidia.cudnn"):
        pytest.skip("TensorFlow's CUDA libraries are installed here")
    reason, fix = _tf_reason()
    assert "tensorflow[and-cuda]" in reason or "without CUDA" in reason
    assert "pip install" in fix


REAL_FALLBACK = """
import json, sys
from bntui.training.device import backend_report, watch_backend_log
log = watch_backend_log()
from jax._src import hardware_utils
hardware_utils.has_visible_nvidia_gpu = lambda: True  # as if /dev/nvidia0 existed
import keras
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
print(json.dumps(backend_report("jax", model, log, json.loads(sys.argv[1]))))
"""


def test_jax_own_fallback_reason_reaches_the_note(tmp_path: Path) -> None:
    """A fresh worker-like process whose JAX believes an NVIDIA GPU is present: JAX's own
    warning, which would have gone to the worker's stderr, becomes the note."""
    pytest.importorskip("jax")
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    env["KERAS_BACKEND"] = "jax"
    result = subprocess.run(
        [sys.executable, "-c", REAL_FALLBACK, json.dumps(job("3,5"))],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    _, runs_on, environment = json.loads(result.stdout.strip().splitlines()[-1])
    if environment["platform"] == "gpu":
        pytest.skip("this machine's JAX has a GPU")
    assert runs_on.startswith("CPU")
    assert environment["gpu_note"].startswith(
        "gpu:0 NVIDIA H200 is present but jax trains on the CPU: An NVIDIA GPU may be present "
        "on this machine, but a CUDA-enabled jaxlib is not installed. Falling back to cpu. Fix: "
    )
    assert "Falling back" not in result.stderr  # kept for the note, not lost in stderr


def test_headless_ready_line_carries_the_note(small_run: RunFile) -> None:
    ready = ModelReady(
        model="plain",
        t=1.0,
        summary={"total_params": 10, "non_trainable_params": 0},
        environment={"keras": "3.15.1", "backend": "jax", "gpu_note": "--cpu: not used"},
        runs_on="CPU (core 0)",
    )
    line = event_line(small_run, ready)
    assert line == (
        "[plain] ready: 10 params (0 non-trainable) on CPU (core 0), keras 3.15.1 / jax; "
        "note: --cpu: not used"
    )
    ready.environment.pop("gpu_note")
    assert str(event_line(small_run, ready)).endswith("keras 3.15.1 / jax")
