"""The matrix-product floor: one core's float32 sgemm, OpenBLAS's native kernel and the forced one.

    python bench/floor.py              # both kernels, interleaved, 3 rounds: a table
    python bench/floor.py --rounds 5

Each measurement runs in a child process pinned to one core (`os.sched_setaffinity`) with
one BLAS thread, and reports the best of its repeats:

- a 2048² float32 product (GFLOP/s, the machine's sgemm peak on one core);
- the MLP's own products at batch 32 for one model-epoch (1,719 steps of 784-300-100-10):
  the plain model's set (forward, weight gradients, input gradients except the first
  layer's: the plain model needs no gradient with respect to the images) and the full set
  (the BN model needs the first layer's input gradient, for the input BN's gamma and beta).

This machine's environment forces `OPENBLAS_CORETYPE=Haswell` (and `OPENBLAS_L2_SIZE`) for
older OpenBLAS builds; the "native" child runs with both removed from its environment only,
so OpenBLAS picks its own kernel (AVX-512 on an AVX-512 machine). Tests and CI keep both.
`floors()` is what `bench/run.py` and `bench/profile.py` call. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

STEPS = 1_719  # batch-32 steps in an epoch of 55,000 images
SHAPES = [(784, 300), (300, 100), (100, 10)]
FORCED_KEYS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# CPU time of the pinned one-thread process: on a machine that other processes keep busy, it
# leaves out the time they hold the core (on an idle one it equals wall time).
CLOCK = time.process_time
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def mlp_products(input_gradient: bool, steps: int = STEPS) -> float:
    """Seconds for one model-epoch of the MLP's products at batch 32 (numpy float32)."""
    import numpy as np

    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s, dtype=np.float32) for s in SHAPES]
    x = rng.standard_normal((32, 784), dtype=np.float32)
    start = CLOCK()
    for _ in range(steps):
        acts = [x]
        for w in weights:
            acts.append(acts[-1] @ w)
        grad = np.ones_like(acts[-1])
        for i in range(len(weights) - 1, -1, -1):
            _ = acts[i].T @ grad
            if i or input_gradient:
                grad = grad @ weights[i].T
    return CLOCK() - start


def child(repeats: int) -> dict[str, object]:
    """In the pinned child: the figures, best of `repeats` each."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    b = a.copy()
    a @ b
    times = []
    for _ in range(repeats):
        start = CLOCK()
        a @ b
        times.append(CLOCK() - start)
    mlp_products(True, 100)  # warm
    plain = min(mlp_products(False) for _ in range(repeats))
    full = min(mlp_products(True) for _ in range(repeats))
    return {
        "gflops_2048": 2 * 2048**3 / min(times) / 1e9,
        "plain_s": plain,
        "full_s": full,
        "kernel": openblas_core(),
    }


def openblas_core() -> str:
    """The kernel OpenBLAS chose at load time (its `get_corename`), or "?" if not found."""
    import ctypes
    import glob

    import numpy as np

    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")
    for path in glob.glob(libs):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename64_", "openblas_get_corename"):
            function = getattr(lib, name, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return str(function().decode())
    return "?"


def measure(native: bool, core: int = 0, repeats: int = 5) -> dict[str, object]:
    """One pinned child's figures; `native` removes the forced kernel from its environment."""
    env = {k: v for k, v in os.environ.items() if not (native and k in FORCED_KEYS)}
    env.update(ONE_THREAD)
    return pinned_child("floor", f"child({repeats})", core, env)


def pinned_child(module: str, call: str, core: int, env: dict[str, str]) -> Any:
    """Run `module.call` (a call of a function in bench/`module`.py returning figures) in a
    fresh interpreter pinned to `core`, with environment `env`; what it printed, as JSON."""
    code = (
        f"import os, json, sys; os.sched_setaffinity(0, {{{core}}}); "
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
        f"import {module}; print(json.dumps({module}.{call}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"bench child {module}.{call} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def floors(rounds: int = 3, core: int = 0) -> dict[str, dict[str, float]]:
    """Native and forced kernels measured in turn, `rounds` times; the best of each figure.

    Returns {"native": {...}, "forced": {...}}, each with gflops_2048, plain_s, full_s
    (the fastest over the rounds) and kernel (what OpenBLAS said it uses)."""
    runs: dict[str, list[dict[str, object]]] = {"native": [], "forced": []}
    for _ in range(rounds):
        for name in runs:
            runs[name].append(measure(name == "native", core))
    best: dict[str, dict[str, float]] = {}
    for name, results in runs.items():
        best[name] = {
            "gflops_2048": max(float(r["gflops_2048"]) for r in results),  # type: ignore[arg-type]
            "plain_s": min(float(r["plain_s"]) for r in results),  # type: ignore[arg-type]
            "full_s": min(float(r["full_s"]) for r in results),  # type: ignore[arg-type]
            "plain_median_s": statistics.median(float(r["plain_s"]) for r in results),  # type: ignore[arg-type]
            "full_median_s": statistics.median(float(r["full_s"]) for r in results),  # type: ignore[arg-type]
            "kernel": results[0]["kernel"],  # type: ignore[dict-item]
        }
    return best


def table(best: dict[str, dict[str, float]]) -> str:
    """The floors as a markdown table."""
    rows = [
        "| OpenBLAS kernel | 2048² GFLOP/s | plain set s/model-epoch | full set s/model-epoch |",
        "|---|---|---|---|",
    ]
    for name, label in (("native", "native (own choice)"), ("forced", "forced (Haswell)")):
        b = best[name]
        rows.append(
            f"| {label}: {b['kernel']} | {b['gflops_2048']:.0f} | {b['plain_s']:.3f} "
            f"| {b['full_s']:.3f} |"
        )
    return "\n".join(rows)


def main() -> None:
    """Print the floors table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}", flush=True)
    best = floors(args.rounds, args.core)
    print(table(best))
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
