"""Benchmark: what the layer statistics (`--inside`, on by default) cost the default run.

    python bench/inside_cost.py --rounds 3     # writes bench/INSIDE_COST.md

Alternates `bntui run --headless` with the default 5 measurements per epoch and with
`--inside 0`, on the full default experiment, and reports the median wall times and
their ratio (issue target: at most 10% slower). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import HEADER, HERE, fmt_row, machine, run_bntui


def main() -> None:
    """Alternate runs with and without layer statistics; print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "INSIDE_COST.md")
    args = parser.parse_args()
    on: list[dict[str, float]] = []
    off: list[dict[str, float]] = []
    rows = [HEADER]
    for i in range(args.rounds):
        off.append(run_bntui(args.epochs, ["--inside", "0"]))
        rows.append(fmt_row(f"--inside 0, round {i + 1}", off[-1]))
        print(rows[-1], flush=True)
        on.append(run_bntui(args.epochs))
        rows.append(fmt_row(f"default (--inside 5), round {i + 1}", on[-1]))
        print(rows[-1], flush=True)
    wall_on = statistics.median(r["wall_s"] for r in on)
    wall_off = statistics.median(r["wall_s"] for r in off)
    text = "\n".join(
        [
            "# Cost of the layer statistics",
            "",
            f"Machine: {machine()}",
            "",
            *rows,
            "",
            f"Median wall time: {wall_off:.1f} s without, {wall_on:.1f} s with layer statistics"
            f" (5 per epoch, 512-image probe): **{(wall_on / wall_off - 1) * 100:+.1f}%**"
            " (target ≤ +10%).",
            "",
        ]
    )
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
