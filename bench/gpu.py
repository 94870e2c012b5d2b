"""GPU benchmark: the default paired run on this machine's GPU(s), whole process.

    python bench/gpu.py                          # ~4 minutes on one H200
    python bench/gpu.py --rounds 5 --sweep 17,34,69,172,344,1719

What it measures, each from `bntui run --headless` as a user runs it:
- wall time of the default paired run (both models, 10 epochs, all the data, validation,
  test, run file written), whole process, after a first run has warmed the compile cache
  (that first run is reported too);
- steady model-epoch time: the median of each model's epochs after the first, as the run
  file records them;
- the GPU's share of the run: NVML's utilization (the share of time a kernel was running)
  of the workers' GPUs, sampled each second by bntui, averaged while both models trained;
- a sweep of the fused group size (`--steps-per-execution K`: K optimizer steps per compiled
  scan and per host→device copy), shorter runs (`--sweep-epochs`, default 3);
- the default run with `--seeds N` (`--seeds-compare`, default 8: N seeds as one vectorised
  program), after a run of its own that compiles it, against the warm default runs' median;
- the scan alone (skipped with `--no-scan-alone`): one model in one process, nothing else on
  the GPU, a group of the default size already on the device, timed until the state is ready;
  with the step count fixed when compiled (as bntui runs whole groups on a GPU) and passed
  at run time (as it runs the epoch's short group): the GPU's own time per step, without
  the host's work between groups.

It writes a Markdown section for bench/RESULTS.md (`--out`, default bench/GPU_RESULTS.md)
and prints it. Without a GPU that JAX uses it measures nothing and says so (exit 2);
`--allow-cpu` runs it anyway, to try the script itself, and labels every figure CPU.
A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from bntui.core.spec import ExperimentSpec
from bntui.procs.gpus import gpu_position
from bntui.procs.system import GpuMonitor
from bntui.record.runfile import RunFile, load_run

HERE = Path(__file__).parent
TARGET_WALL_S, TARGET_EPOCH_S = 6.0, 0.15


def jax_platform() -> str:
    """JAX's default platform in a fresh process, as a worker would start it."""
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    found = subprocess.run(
        [sys.executable, "-c", "import jax; print(jax.default_backend())"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    return found.stdout.strip().splitlines()[-1] if found.returncode == 0 else "error"


def versions() -> str:
    """Installed versions that matter here."""
    names = (
        "keras",
        "jax",
        "jaxlib",
        "jax-cuda12-plugin",
        "jax-cuda13-plugin",
        "nvidia-cudnn-cu12",
    )
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def bntui_run(args: list[str], env: dict[str, str]) -> tuple[float, RunFile]:
    """`bntui run --headless ARGS`, whole process: wall seconds and the run file."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        cmd = [sys.executable, "-m", "bntui", "run", "--headless", "--out", str(out), *args]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}")
        return wall, load_run(out)


def steady_epoch(run: RunFile, key: str) -> float:
    """Median epoch time after the first (which compiles), as the worker timed it."""
    times = run.models[key].history.epoch_time_s
    return statistics.median(times[1:] or times)


def workers_gpus(run: RunFile) -> list[str]:
    """Tags (`gpu3`) of the GPUs the workers trained on, from NVML's process lists or, where
    NVML could not name the processes, from where each backend said it trained."""
    series = run.system.series
    tags = {n.split(".")[0] for n, v in series.items() if n.endswith("_mem_mb") and any(v)}
    for model in run.models.values():
        position = gpu_position(model.runs_on)
        for dev in run.devices:
            if position is not None and dev.get("id") == f"gpu:{position}":
                tags.add(f"gpu{dev.get('nvml_index')}")
    return sorted(tags)


def gpu_share(run: RunFile) -> float | None:
    """Mean NVML utilization (0-1) of the workers' GPUs while both models trained."""
    start = max(m.ready_t or 0.0 for m in run.models.values())
    end = min(m.finished_t or float("inf") for m in run.models.values())
    values = [
        v
        for tag in workers_gpus(run)
        for t, v in zip(run.system.t, run.system.series.get(f"{tag}.util_pct", []))
        if v is not None and start <= t <= end
    ]
    return statistics.mean(values) / 100 if values else None


def row(name: str, wall: float, run: RunFile) -> str:
    """One Markdown table row."""
    share = gpu_share(run)
    tests = [run.models[k].test for k in ("plain", "bn")]
    accs = " / ".join(f"{t.accuracy:.4f}" if t and t.accuracy else "—" for t in tests)
    return (
        f"| {name} | {wall:.1f} | {steady_epoch(run, 'plain'):.3f} | {steady_epoch(run, 'bn'):.3f} "
        f"| {'—' if share is None else f'{share:.0%}'} | {run.models['plain'].runs_on} "
        f"| {run.models['bn'].runs_on} | {accs} |"
    )


HEADER = (
    "| run | wall s | s/epoch plain | s/epoch BN | GPU busy | plain on | BN on "
    "| test acc plain / BN |\n|---|---|---|---|---|---|---|---|"
)


SCAN_ALONE = """
import os, sys, time
os.environ["KERAS_BACKEND"] = "jax"
from dataclasses import replace
import numpy as np, jax, keras
from bntui.core.spec import ExperimentSpec
from bntui.training.fused import scan_steps
from bntui.training.models import build_model
from bntui.training.stack import model_state
which, k, calls = sys.argv[1], int(sys.argv[2]), 30
rng = np.random.default_rng(0)
x = rng.random((k * 32, 28, 28), dtype="float32"); y = rng.integers(0, 10, k * 32).astype("uint8")
model = build_model(replace(ExperimentSpec(), steps_per_execution=k), which)
model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # builds every variable
group = jax.device_put((x.reshape(k, 32, 28, 28), y.reshape(k, 32)))
fixed = jax.jit(lambda s, b: scan_steps(model, model.train_step, s, b), donate_argnums=0)
traced = jax.jit(lambda s, b, n: scan_steps(model, model.train_step, s, b, n), donate_argnums=0)
ways = {"fixed": lambda s: fixed(s, group), "traced": lambda s: traced(s, group, np.int32(k))}
for name, run in ways.items():
    state = jax.device_put(jax.tree.map(np.array, model_state(model)))  # a copy: donated
    state = jax.block_until_ready(run(state)[1])  # compiles
    start = time.perf_counter()
    for _ in range(calls):
        state = run(state)[1]
    jax.block_until_ready(state)
    print(name, (time.perf_counter() - start) / calls / k)
"""


def scan_alone(k: int | None = None) -> list[str]:
    """Rows for the scan alone, groups of `k` steps (the default run's size when None):
    seconds per step and per model-epoch (1,719 steps) of each model, the step count fixed
    and traced (`SCAN_ALONE`)."""
    k = k or ExperimentSpec().effective_steps_per_execution()
    rows = ["", f"The scan alone (one model per process, a group of K = {k} steps on the "
            "device, 30 calls after one that compiles; model-epoch = 1,719 steps):", "",
            "| model | step count | µs per step | s per model-epoch |",
            "|---|---|---|---|"]  # fmt: skip
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    for which in ("plain", "bn"):
        done = subprocess.run([sys.executable, "-c", SCAN_ALONE, which, str(k)],
                              capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
        if done.returncode != 0:
            rows.append(f"| {which} | failed: {done.stderr.strip().splitlines()[-1:]} | | |")
            continue
        for line in done.stdout.strip().splitlines()[-2:]:
            name, per_step = line.split()
            label = "fixed when compiled" if name == "fixed" else "passed at run time"
            rows.append(f"| {which} | {label} | {float(per_step) * 1e6:.0f} "
                        f"| {float(per_step) * 1719:.3f} |")  # fmt: skip
        print(*rows[-2:], sep="\n", flush=True)
    return rows


def seeds_compare(
    seeds: int, extra: list[str], env: dict[str, str], walls: list[tuple[float, float, float]]
) -> list[str]:
    """Rows for the default run with `--seeds N` (a first run compiles it; the second is
    timed) and its wall time against the warm one-seed rounds' median."""
    if seeds <= 1 or not walls:
        return []
    rows = ["", f"`--seeds {seeds}` (one vectorised program for all seeds; seed 0's test "
            "accuracy; s/epoch is the whole vectorised epoch):", "", HEADER]  # fmt: skip
    for name in ("first run (compiles)", "warm"):
        wall, run = bntui_run([*extra, "--seeds", str(seeds)], env)
        rows.append(row(f"--seeds {seeds}, {name}", wall, run))
        print(rows[-1], flush=True)
    one = statistics.median(w for w, _, _ in walls)
    rows += ["", f"`--seeds {seeds}` / one seed, wall time (warm): {wall:.1f} / {one:.1f} s = "
             f"**{wall / one:.2f}x** (target ≤ 1.5x)."]  # fmt: skip
    return rows


def main() -> None:
    """Measure, print and write the Markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="default runs after the warm-up")
    parser.add_argument("--sweep", default="17,34,69,172,344,1719", help="group sizes (K)")
    parser.add_argument("--sweep-epochs", type=int, default=3)
    parser.add_argument("--seeds-compare", type=int, default=8, help="N for --seeds N (0: none)")
    parser.add_argument("--no-scan-alone", action="store_true", help="skip the scan alone")
    parser.add_argument("--epochs", type=int, default=None, help="(to try the script quickly)")
    parser.add_argument("--limit", type=int, default=None, help="(to try the script quickly)")
    parser.add_argument("--allow-cpu", action="store_true", help="run even without a GPU")
    parser.add_argument("--out", type=Path, default=HERE / "GPU_RESULTS.md")
    args = parser.parse_args()

    monitor = GpuMonitor()
    cards = monitor.cards()
    platform = jax_platform()
    if platform != "gpu" and not args.allow_cpu:
        seen = f"NVML sees {len(cards)} GPU(s)" if cards else "NVML sees no NVIDIA GPU"
        print(f"not measured: JAX trains on {platform} here ({seen}); see README, GPU set-up")
        raise SystemExit(2)
    extra = [*(["--epochs", str(args.epochs)] if args.epochs else []),
             *(["--limit", str(args.limit)] if args.limit else [])]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    lines = [
        f"## GPU ({'CPU only: --allow-cpu, not GPU figures' if platform != 'gpu' else 'measured'})",
        "",
        "Machine: " + (", ".join(sorted({c.name for c in cards})) or "no NVIDIA GPU")
        + f" ({len(cards)} seen by NVML, driver {monitor.driver_version() or '—'}); {versions()}; "
        f"JAX platform {platform}; `python bench/gpu.py {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        HEADER,
    ]  # fmt: skip
    alone = [] if args.no_scan_alone else scan_alone()
    with tempfile.TemporaryDirectory() as cache:
        env["BNTUI_CACHE_DIR"] = cache  # round 0 compiles everything; the rest reuse it
        walls = []
        for i in range(args.rounds + 1):
            wall, run = bntui_run(extra, env)
            name = "default, first run (empty compile cache)" if i == 0 else f"default, round {i}"
            lines.append(row(name, wall, run))
            print(lines[-1], flush=True)
            if i:
                walls.append((wall, steady_epoch(run, "plain"), steady_epoch(run, "bn")))
        sweep = [int(k) for k in args.sweep.split(",") if k]
        sweep_rows = [
            "",
            f"Fused group size (`--steps-per-execution K`, {args.sweep_epochs} epochs each, "
            "warm cache):",
            "",
            HEADER,
        ]
        for k in sweep:
            wall, run = bntui_run(
                [*extra, "--epochs", str(args.sweep_epochs), "--steps-per-execution", str(k)], env
            )
            sweep_rows.append(row(f"K = {k}", wall, run))
            print(sweep_rows[-1], flush=True)
        seeds_rows = seeds_compare(args.seeds_compare, extra, env, walls)
    if walls and platform == "gpu":
        wall = statistics.median(w for w, _, _ in walls)
        epoch = statistics.median(max(p, b) for _, p, b in walls)
        lines += [
            "",
            f"Median of {len(walls)} warm rounds: wall **{wall:.1f} s** "
            f"(target ≤ {TARGET_WALL_S:g} s: {'met' if wall <= TARGET_WALL_S else 'not met'}), "
            "steady model-epoch (the slower model) "
            f"**{epoch:.3f} s** (target ≤ {TARGET_EPOCH_S:g} s: "
            f"{'met' if epoch <= TARGET_EPOCH_S else 'not met'}).",
        ]
    text = "\n".join(lines + sweep_rows + seeds_rows + alone) + "\n"
    args.out.write_text(text)
    print("\n" + text + f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
