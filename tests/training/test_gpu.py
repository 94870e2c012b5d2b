"""On a machine with an NVIDIA GPU that JAX can use: the models really train on it, the run
file says so, NVML sees the workers, two models share one GPU, and the fused steps match
Keras' own loop there. Skipped cleanly anywhere else (marked `gpu`).

Everything runs in subprocesses, so this test process never takes GPU memory itself.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bntui_command

from bntui.procs.system import GpuMonitor
from bntui.record.runfile import RunFile, load_run

pytestmark = [pytest.mark.gpu, pytest.mark.slow]


@functools.cache
def jax_platform() -> str:
    """JAX's default platform in a fresh worker-like process (`gpu` or `cpu`)."""
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    env.pop("JAX_PLATFORMS", None)
    found = subprocess.run(
        [sys.executable, "-c", "import jax; print(jax.default_backend())"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    return found.stdout.strip().splitlines()[-1] if found.returncode == 0 else "error"


@pytest.fixture
def gpu_count() -> int:
    """GPUs bntui may use here; skips the test unless JAX trains on them."""
    count = GpuMonitor().count
    if not count:
        pytest.skip("no NVIDIA GPU (NVML sees none)")
    if jax_platform() != "gpu":
        pytest.skip("an NVIDIA GPU is here but JAX cannot use it (install '.[cuda]')")
    return count


def run(tmp_path: Path, clean_env: dict[str, str], *args: str) -> RunFile:
    out = tmp_path / "run.json"
    result = subprocess.run(
        [*bntui_command(), "run", "--headless", "--limit", "2000", "--epochs", "2",
         "--out", str(out), *args],
        capture_output=True, text=True, env=clean_env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "ready:" in result.stdout and "on gpu:" in result.stdout, result.stdout
    return load_run(out)


def test_both_models_train_on_gpus_and_the_file_says_so(
    gpu_count: int, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    record = run(tmp_path, clean_env)
    env = record.environment
    assert env["platform"] == "gpu" and "gpu_note" not in env
    assert env.get("cuda") and env.get("cudnn") and env.get("cuda_plugin"), env
    gpus = [d for d in record.devices if d["kind"] == "GPU"]
    assert gpus and all(d["memory_bytes"] > 0 and d["uuid"] for d in gpus)
    plain, bn = (record.models[k].runs_on for k in ("plain", "bn"))
    if gpu_count >= 2:  # a GPU each by default
        assert plain.startswith("gpu:0 (") and bn.startswith("gpu:1 (")
    else:
        assert plain.startswith("gpu:0 (") and bn.startswith("gpu:0 (")
    assert all(m.status == "completed" for m in record.models.values())
    # NVML saw each worker's process on a GPU (host PIDs: inside a container with its own
    # PID namespace NVML cannot name them, and this fails for that reason).
    held = {
        name.split(".", 1)[1]
        for name, values in record.system.series.items()
        if name.endswith("_mem_mb") and any(v is not None for v in values)
    }
    assert held == {"plain_mem_mb", "bn_mem_mb"}, sorted(record.system.series)


def test_two_models_share_one_gpu_without_running_out(
    gpu_count: int, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    record = run(tmp_path, clean_env, "--devices", "0,0")
    assert all(m.status == "completed" for m in record.models.values())
    assert {record.models[k].runs_on.split(" ")[0] for k in ("plain", "bn")} == {"gpu:0"}


def test_cpu_option_keeps_the_gpus_out(
    gpu_count: int, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "cpu.json"
    result = subprocess.run(
        [*bntui_command(), "run", "--headless", "--limit", "1000", "--epochs", "1", "--cpu",
         "--out", str(out)],
        capture_output=True, text=True, env=clean_env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    record = load_run(out)
    assert all(m.runs_on.startswith("CPU") for m in record.models.values())
    assert record.environment["gpu_note"].startswith("--cpu: ")


# TF32 matrix products and XLA's GPU fusion differ between a scanned group and single steps,
# so on a GPU the two loops agree to ~1e-3, not to the last bit as on the CPU.
GPU_RTOL, GPU_ATOL = 2e-3, 2e-4

FUSED_VS_KERAS = """
import json, sys
from dataclasses import replace
import numpy as np, keras, jax
from bntui.training.fused import fuse_train_steps
from bntui.training.models import build_model
from bntui.core.spec import ExperimentSpec
assert jax.default_backend() == "gpu"
rng = np.random.default_rng(0)
x = rng.random((640, 28, 28), dtype="float32"); y = rng.integers(0, 10, 640).astype("uint8")
out = {}
for fused in (False, True):
    keras.utils.set_random_seed(3)
    model = build_model(replace(ExperimentSpec(), steps_per_execution=4), sys.argv[1])
    if fused:
        fuse_train_steps(model, 4)
    model.fit(x, y, batch_size=32, epochs=2, shuffle=True, verbose=0)
    out[str(fused)] = [w.tolist() for w in model.get_weights()]
    out["groups"] = getattr(model.train_function, "host_groups", 0)
print(json.dumps(out))
"""


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_fused_steps_match_keras_loop_on_the_gpu(gpu_count: int, which: str) -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    result = subprocess.run(
        [sys.executable, "-c", FUSED_VS_KERAS, which],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    import numpy as np

    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["groups"] == 2 * (640 // 32 // 4)  # every group copied to the GPU at once
    for fused, keras_way in zip(out["True"], out["False"]):
        np.testing.assert_allclose(fused, keras_way, rtol=GPU_RTOL, atol=GPU_ATOL)
