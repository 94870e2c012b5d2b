"""Benchmark: the claims battery through the local executor and through Ray, side by side.

    python bench/ray_battery.py                    # the tiny battery, 2 alternating rounds
    python bench/ray_battery.py --scale quick --rounds 1
    python bench/ray_battery.py --out bench/RAY.md # also write the table there

Each row is a whole `bntui claims --headless` process (`--executor ray` starts its private
Ray cluster on this machine and stops it at the end). Reported: the wall time to the header
line (start-up: imports, the workers' slots or the Ray cluster), the whole wall time, the
cells' own seconds summed from the claims file, and the peak RSS of the whole process tree
(Ray's servers, agents and workers included), polled every 0.25 s. Each run gets an empty
JAX compile cache (as a first run on the machine). It also times starting and stopping a
private cluster alone. A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import TreeSampler, machine  # bench/run.py

START_STOP = """
import time
t = time.perf_counter()
from bntui.procs.raycluster import connect
cluster = connect()
up = time.perf_counter() - t
cluster.close()
print(up, time.perf_counter() - t)
"""


def battery(executor: str, scale: str) -> dict[str, float]:
    """One `bntui claims --headless` process and its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "claims.json"
        size = ["--scale", "tiny"] if scale == "tiny" else ["--quick"]
        cmd = [sys.executable, "-m", "bntui", "claims", "--headless", "--executor", executor,
               "--out", str(out), *size]  # fmt: skip
        # An empty compile cache of its own: every run compiles what it needs, as a first
        # run on the machine does (a cache warmed by the previous row would favour the next).
        env = os.environ | {"BNTUI_CACHE_DIR": str(Path(tmp) / "cache")}
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, env=env)  # fmt: skip
        sampler = TreeSampler(proc.pid)
        assert proc.stdout is not None
        header = None
        for line in proc.stdout:
            if header is None and line.startswith("bntui claims:"):
                header = time.perf_counter() - start
        proc.wait()
        wall = time.perf_counter() - start
        sampler.stop()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
        claims = json.loads(out.read_text())
    cells = claims["cells"]
    return {"startup_s": header or 0.0, "wall_s": wall, "peak_rss_mb": sampler.peak_rss / 2**20,
            "cell_s": sum(c["seconds"] for c in cells), "cells": len(cells),
            "workers": claims["workers"]}  # fmt: skip


def main() -> None:
    """Alternate local and Ray rounds; print (and with --out write) the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=("tiny", "quick"), default="tiny")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    for round_ in range(1, args.rounds + 1):
        for executor in ("local", "ray"):
            found = battery(executor, args.scale)
            rows.append(f"| {args.scale}, {executor}, round {round_} | {found['cells']:.0f} | "
                        f"{found['workers']:.0f} | {found['startup_s']:.1f} | "
                        f"{found['wall_s']:.1f} | {found['cell_s']:.1f} | "
                        f"{found['peak_rss_mb']:,.0f} |")  # fmt: skip
            print(rows[-1], flush=True)
    up, total = (float(v) for v in subprocess.run([sys.executable, "-c", START_STOP],
                 capture_output=True, text=True, check=True).stdout.split())  # fmt: skip
    alone = f"A private Ray cluster alone: up in {up:.1f} s, up and stopped in {total:.1f} s."
    lines = [f"Machine: {machine()}", "",
             "| run | cells | workers | start-up s | wall s | cells' own s | peak RSS MB |",
             "|---|---|---|---|---|---|---|", *rows, "", alone]  # fmt: skip
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
