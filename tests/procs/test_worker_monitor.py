"""The live load of the workers: CPU and memory per model, read from real processes; a worker
that has exited is left out, also before it is reaped (its memory would read 0)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from bntui.procs.system import WorkerMonitor


def test_a_running_worker_is_sampled_and_an_exited_one_left_out() -> None:
    running = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                               stdin=subprocess.PIPE)  # fmt: skip
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        # Not reaped: until this process waits for it, it stays a zombie.
        deadline = time.monotonic() + 120
        while psutil.Process(exited.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.05)
        monitor = WorkerMonitor({"plain": running.pid, "bn": exited.pid})
        figures = monitor.sample()
        assert list(figures) == ["plain"]
        assert figures["plain"]["rss_mb"] > 1
    finally:
        assert running.stdin is not None
        running.stdin.close()
        running.wait()
        exited.wait()
