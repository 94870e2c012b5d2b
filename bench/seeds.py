"""Benchmark: N seeds as one vectorised program against one seed, side by side.

    python bench/seeds.py                  # --seeds 1 and --seeds 5, default experiment,
                                           # then --seeds 8 (2 epochs) for peak memory
    python bench/seeds.py --seeds 1 5 --epochs 10 --memory-seeds 8

Each row is a whole `bntui run --headless` (UI process and both workers, one core each);
the rows run one after another on the same machine. It prints wall time, steady-state
seconds per epoch of each model (the whole vectorised epoch: all seeds), seconds per
model-epoch (that over the seeds), the share of one core's float32 matrix-multiply peak
that a model-epoch's 88 GFLOP reaches, peak RSS, and the ratios to one seed. The peak is
measured here: a large NumPy sgemm pinned to one core, one BLAS thread.
A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from run import machine, timed  # bench/run.py

# Forward, weight-gradient and input-gradient products of 784-300-100-10 over 55,000
# images: 3 × 2 × 266,200 × 55,000 FLOP (the figure bench/run.py's floor uses).
MODEL_EPOCH_GFLOP = 3 * 2 * (784 * 300 + 300 * 100 + 100 * 10) * 55_000 / 1e9

PEAK_CODE = """
import os, time, numpy as np
os.sched_setaffinity(0, {0})
a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
b = a.copy(); a @ b
best = min(
    (lambda s: (a @ b, time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(10)
)
print(2 * 2048**3 / best / 1e9)
"""


def sgemm_peak() -> float:
    """GFLOP/s of a 2048² float32 matrix product on one core (best of 10)."""
    env = os.environ | {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                          "MKL_NUM_THREADS")}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", PEAK_CODE], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip())


def run(seeds: int, epochs: int, keep: Path | None = None) -> dict[str, float]:
    """One `bntui run --headless --seeds N`, whole process; its figures. With `keep`, its
    run file is kept there as `seeds<N>-epochs<E>.json`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = (keep or Path(tmp)) / f"seeds{seeds}-epochs{epochs}.json"
        cmd = [sys.executable, "-m", "bntui", "run", "--headless", "--seeds", str(seeds),
               "--epochs", str(epochs), "--out", str(out)]  # fmt: skip
        wall, rss, _ = timed(cmd)
        data = json.loads(out.read_text())
    figures = {"seeds": seeds, "epochs": epochs, "wall_s": wall, "peak_rss_mb": rss / 2**20}
    for key in ("plain", "bn"):
        times = data["seeds"][0]["models"][key]["history"]["epoch_time_s"]
        steady = statistics.median(times[1:] or times)
        figures[f"epoch_s_{key}"] = steady
        figures[f"model_epoch_s_{key}"] = steady / seeds
        tests = [s["models"][key]["test"] for s in data["seeds"]]
        figures[f"acc_{key}"] = statistics.mean(t["accuracy"] for t in tests if t)
    return figures


def main() -> None:
    """Run the rows and print a Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--memory-seeds", type=int, default=8)
    parser.add_argument("--memory-epochs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the run files in this folder")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    peak = sgemm_peak()
    rows = [run(n, args.epochs, args.keep) for n in args.seeds]
    if args.memory_seeds:
        rows.append(run(args.memory_seeds, args.memory_epochs, args.keep))
    print(f"Machine: {machine()}\n")
    print(f"One core's float32 sgemm peak (2048², best of 10): {peak:.1f} GFLOP/s; a "
          f"model-epoch is {MODEL_EPOCH_GFLOP:.1f} GFLOP, so {MODEL_EPOCH_GFLOP / peak:.2f} s "
          "at that peak.\n")  # fmt: skip
    print("| seeds | epochs | wall s | s/epoch plain | s/epoch BN | s/model-epoch plain "
          "| s/model-epoch BN | % of peak plain | % of peak BN | peak RSS MB "
          "| mean test acc plain | mean test acc BN |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        share = {
            k: 100 * MODEL_EPOCH_GFLOP / r[f"model_epoch_s_{k}"] / peak for k in ("plain", "bn")
        }
        print(
            f"| {r['seeds']} | {r['epochs']} | {r['wall_s']:.1f} | {r['epoch_s_plain']:.2f} | "
            f"{r['epoch_s_bn']:.2f} | {r['model_epoch_s_plain']:.3f} | "
            f"{r['model_epoch_s_bn']:.3f} | {share['plain']:.0f}% | {share['bn']:.0f}% | "
            f"{r['peak_rss_mb']:,.0f} | {r['acc_plain']:.4f} | {r['acc_bn']:.4f} |"
        )
    base = rows[0]
    for r in rows[1 : len(args.seeds)]:
        ratio, target = r["wall_s"] / base["wall_s"], r["seeds"] / base["seeds"]
        print(f"\n--seeds {r['seeds']} / --seeds {base['seeds']} wall time: {ratio:.2f}x "
              f"(target ≤ {target:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
