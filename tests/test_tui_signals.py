"""The live dashboard in a real pseudo-terminal: SIGTERM and SIGHUP save the run, no orphans."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import psutil
import pytest

from bntui.runfile import load_run

pytestmark = pytest.mark.slow


def drain(fd: int, seconds: float) -> bytes:
    """Read what the app draws for a while (a terminal must be read, or the app blocks)."""
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_tui_saves_on_stop_signals(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "run.json"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color")
    args = ["run", "--limit", "3000", "--epochs", "200", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bntui", *args],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    os.set_blocking(master, False)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    screen = b""
    while time.monotonic() < deadline and b"ep 2/200" not in screen:
        time.sleep(0.2)
        try:
            screen = (screen + os.read(master, 1 << 20))[-200_000:]
        except BlockingIOError:
            pass
        workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert b"ep 2/200" in screen, "the dashboard never showed epoch 2"
    assert len(workers) == 2
    proc.send_signal(sig)
    if sig == signal.SIGHUP:
        os.close(master)  # the terminal goes away, as when an SSH link drops
    else:
        os.set_blocking(master, True)
        import threading

        threading.Thread(target=drain, args=(master, 30), daemon=True).start()
    assert proc.wait(timeout=60) == 128 + sig
    time.sleep(0.5)
    assert not [p for p in workers if psutil.pid_exists(p)]
    run = load_run(out)
    assert run.status == "interrupted"
    assert max(len(m.history.loss) for m in run.models.values()) >= 1
    assert all(m.curve.t for m in run.models.values())
