"""The live dashboard in a real pseudo-terminal: SIGTERM, SIGHUP and SIGINT save the run, no
orphans."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import psutil
import pytest
from conftest import assert_gone

from bntui.record.runfile import load_run

pytestmark = pytest.mark.slow
PAST_EPOCH_1 = re.compile(rb"ep ([2-9]|\d\d+)/200")


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


# SIGINT as `kill -INT`, job control or a supervisor sends it (the Ctrl-C key is a key press).
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
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
    try:
        check_stop_signal(proc, master, out, sig)
    finally:
        if proc.poll() is None:  # a failed check must not leave a dashboard running
            proc.kill()
            proc.wait()


def check_stop_signal(proc: subprocess.Popen[bytes], master: int, out: Path, sig: int) -> None:
    """Wait for epoch 2 on screen, send `sig`, and check that the run was saved."""
    os.set_blocking(master, False)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    screen = b""
    # Epoch 2 or later: at two redraws a second a short epoch may never be on screen.
    while time.monotonic() < deadline and not PAST_EPOCH_1.search(screen):
        time.sleep(0.2)
        try:
            screen = (screen + os.read(master, 1 << 20))[-200_000:]
        except BlockingIOError:
            pass
        workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert PAST_EPOCH_1.search(screen), "the dashboard never showed epoch 2 or later"
    assert len(workers) == 2
    proc.send_signal(sig)
    if sig == signal.SIGHUP:
        os.close(master)  # the terminal goes away, as when an SSH link drops
    else:
        os.set_blocking(master, True)
        import threading

        threading.Thread(target=drain, args=(master, 30), daemon=True).start()
    assert proc.wait(timeout=60) == 128 + sig
    assert_gone(workers)
    run = load_run(out)
    assert run.status == "interrupted"
    assert max(len(m.history.loss) for m in run.models.values()) >= 1
    # What the workers sent is kept. (The BN model may still be compiling when the plain one
    # reaches epoch 2, so only models that finished an epoch must have curve points.)
    assert all(m.curve.t for m in run.models.values() if m.history.loss)
