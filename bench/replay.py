"""Replay's speed: loading a run file, and time from `bntui replay` to its first frame.

    python bench/replay.py RUN.json [RUN.json ...]

Loading is timed in-process (`load_run`, best of 5); the first frame is timed by starting
`bntui replay` in an 80x24 tmux pane and polling the pane until the status line shows REPLAY.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bntui.record.runfile import load_run


def load_time(path: Path) -> float:
    """Best of five: read and validate the whole file."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        load_run(path)
        best = min(best, time.perf_counter() - start)
    return best


def first_frame(path: Path) -> float | None:
    """Seconds from launching `bntui replay` to the dashboard's status line on screen."""
    if not shutil.which("tmux"):
        return None
    session = "bntui-replay-bench"
    start = time.perf_counter()
    cmd = f"{sys.executable} -m bntui replay {path}"
    subprocess.run(["tmux", "new", "-d", "-s", session, "-x", "80", "-y", "24", cmd], check=True)
    try:
        while time.perf_counter() - start < 20:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                  capture_output=True, text=True).stdout  # fmt: skip
            if "REPLAY" in pane:
                return time.perf_counter() - start
            time.sleep(0.01)
        return None
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main() -> None:
    """Print one line per file."""
    for name in sys.argv[1:]:
        path = Path(name)
        run = load_run(path)
        epochs = len(run.models["plain"].history.loss)
        points = sum(len(m.curve.t) for m in run.models.values())
        frame = first_frame(path)
        shown = f"{frame:.2f} s" if frame is not None else "n/a (no tmux)"
        print(
            f"{path.name}: {path.stat().st_size / 1024:,.0f} KiB, {epochs} epochs, "
            f"{points:,} curve points: load {load_time(path) * 1000:.0f} ms, first frame {shown}"
        )


if __name__ == "__main__":
    main()
