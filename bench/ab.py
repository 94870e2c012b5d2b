"""Two bntui trees against each other: default headless runs in turn, warm caches.

    git worktree add /tmp/old <commit>
    python bench/ab.py /tmp/old .                  # 10 pairs of default runs
    python bench/ab.py /tmp/old . --pairs 6 -- --epochs 3

Each run imports bntui from its own tree and nowhere else: `PYTHONPATH` names the tree,
`PYTHONSAFEPATH=1` keeps the working directory off `sys.path`, the workers inherit both, and
every run starts in an empty folder. Without that, `python -m bntui` puts the working
directory first on `sys.path`, so a run started inside a checkout imports that checkout's
bntui whatever `PYTHONPATH` says: round 19's A/B runs compared a tree with itself that way
(`bench/RESULTS.md`, speed round 20). Each tree is checked to import from itself, then runs
once unmeasured: a tree's first run compiles its programs (bntui's training source is part of
their names) and would count as start-up.

Per run it prints the wall time and, from the run file, BN's model built (`ready`), its first
epoch over a steady one (`first_excess`), its last curve point to its end (`tail`: the last
validation and the test), the command's end after BN's (`end`), the time outside steady
training (`outside`, as `bench/run.py`) and its share of the run, and the test figures; then
the medians, ranges and in how many pairs the second tree was lower. The old tree runs
first in even pairs, the new one in odd pairs. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import file_figures, outside_steady

FIGURES = ("wall", "ready", "first_excess", "tail", "end", "outside", "share", "steady_bn")


def tree_env(tree: Path) -> dict[str, str]:
    """The environment of a run that imports bntui from `tree` only."""
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}


def imports_from(tree: Path) -> Path:
    """Where a process started as the runs are imports bntui from."""
    with tempfile.TemporaryDirectory() as empty:
        found = subprocess.run(
            [sys.executable, "-c", "import bntui; print(bntui.__file__)"],
            env=tree_env(tree),
            cwd=empty,
            capture_output=True,
            text=True,
            check=True,
        )
    return Path(found.stdout.strip()).resolve()


def one_run(tree: Path, extra: list[str]) -> dict[str, float]:
    """One headless run of `tree`'s bntui, started in an empty folder: its figures."""
    with tempfile.TemporaryDirectory() as empty:
        out = Path(empty) / "run.json"
        command = [sys.executable, "-m", "bntui", "run", "--headless", "--out", str(out), *extra]
        start = time.perf_counter()
        subprocess.run(
            command,
            env=tree_env(tree),
            cwd=empty,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        run = json.loads(out.read_text())
        figures = {"wall_s": wall, **file_figures(out)}
    bn = run["seeds"][0]["models"]["bn"]
    outside = outside_steady(figures)
    return {
        "wall": wall,
        "ready": bn["ready_t"],
        "first_excess": figures["first_epoch_s_bn"] - figures["epoch_s_bn"],
        "tail": bn["finished_t"] - bn["curve"]["t"][-1],
        "end": wall - bn["finished_t"],
        "outside": outside,
        "share": 100 * outside / wall,
        "steady_bn": figures["epoch_s_bn"],
        "acc_plain": figures["acc_plain"],
        "acc_bn": figures["acc_bn"],
        "loss_bn": bn["test"]["loss"],
    }


def summary(old: list[dict[str, float]], new: list[dict[str, float]]) -> list[str]:
    """A line per figure: each tree's median and range, and the pairs where new was lower."""
    lines = []
    for name in FIGURES:
        a, b = [r[name] for r in old], [r[name] for r in new]
        lower = sum(y < x for x, y in zip(a, b))
        lines.append(
            f"{name:13s} old {statistics.median(a):.3f} ({min(a):.3f}-{max(a):.3f})  "
            f"new {statistics.median(b):.3f} ({min(b):.3f}-{max(b):.3f})  "
            f"new lower in {lower} of {len(a)}"
        )
    accuracies = {(r["acc_plain"], r["acc_bn"], r["loss_bn"]) for r in old + new}
    lines.append(f"test figures (plain acc, BN acc, BN loss) seen: {sorted(accuracies)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--pairs", type=int, default=10)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.extra = argv[cut + 1 :]  # options for `bntui run`
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    for name, tree in trees.items():
        found = imports_from(tree)
        if not found.is_relative_to(tree):
            raise SystemExit(f"the {name} tree {tree} imports bntui from {found}")
        one_run(tree, args.extra)  # compiles what this tree's first run compiles
    results: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for pair in range(args.pairs):
        for name in ("old", "new") if pair % 2 == 0 else ("new", "old"):
            row = one_run(trees[name], args.extra)
            results[name].append(row)
            print(name, " ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
    print("\n".join(summary(results["old"], results["new"])))


if __name__ == "__main__":
    main()
