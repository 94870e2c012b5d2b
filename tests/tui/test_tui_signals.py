"""Both apps in a real pseudo-terminal, sent real signals: SIGTERM, SIGHUP and SIGINT save a
live run or battery as interrupted, leave no orphans, and exit 128 + N, as a replay of either
does (the one exit-code table, README "Exit codes")."""

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
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import DATA, SMALL_RUN, assert_gone

from bntui.claims.claimfile import load_claims
from bntui.record.runfile import load_run

pytestmark = pytest.mark.slow
PAST_EPOCH_1 = re.compile(rb"ep ([2-9]|\d\d+)/200")
SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]


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


def in_terminal(args: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start `bntui ARGS` on a new 80x24 pseudo-terminal; return it and the terminal's side."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bntui", *args],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    os.set_blocking(master, False)
    return proc, master


def until_drawn(master: int, pattern: re.Pattern[bytes], limit: float = 120) -> bytes:
    """Read the screen until `pattern` is on it (the limit only bounds a hang)."""
    deadline = time.monotonic() + limit
    screen = b""
    while time.monotonic() < deadline and not pattern.search(screen):
        time.sleep(0.2)
        try:
            screen = (screen + os.read(master, 1 << 20))[-200_000:]
        except BlockingIOError:
            pass
    assert pattern.search(screen), f"{pattern.pattern!r} never appeared on screen"
    return screen


def send(proc: subprocess.Popen[bytes], master: int, sig: int) -> int:
    """Send `sig`; for SIGHUP the terminal goes away too, as when an SSH link drops; else it
    is read on. Return the exit code."""
    proc.send_signal(sig)
    if sig == signal.SIGHUP:
        os.close(master)
    else:
        os.set_blocking(master, True)
        threading.Thread(target=drain, args=(master, 30), daemon=True).start()
    return proc.wait(timeout=60)


def workers_of(proc: subprocess.Popen[bytes], marker: str) -> list[int]:
    """The pids of `proc`'s worker processes (their command line holds `marker`)."""
    return [
        child.pid
        for child in psutil.Process(proc.pid).children(recursive=True)
        if marker in " ".join(child.cmdline())
    ]


# SIGINT as `kill -INT`, job control or a supervisor sends it (the Ctrl-C key is a key press).
@pytest.mark.parametrize("sig", SIGNALS)
def test_tui_saves_on_stop_signals(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "run.json"
    args = ["run", "--limit", "3000", "--epochs", "200", "--out", str(out)]
    proc, master = in_terminal(args)
    try:
        check_stop_signal(proc, master, out, sig)
    finally:
        if proc.poll() is None:  # a failed check must not leave a dashboard running
            proc.kill()
            proc.wait()


def check_stop_signal(proc: subprocess.Popen[bytes], master: int, out: Path, sig: int) -> None:
    """Wait for epoch 2 on screen, send `sig`, and check that the run was saved."""
    # Epoch 2 or later: at two redraws a second a short epoch may never be on screen.
    until_drawn(master, PAST_EPOCH_1)
    workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert len(workers) == 2
    assert send(proc, master, sig) == 128 + sig
    assert_gone(workers)
    run = load_run(out)
    assert run.status == "interrupted"
    assert max(len(m.history.loss) for m in run.models.values()) >= 1
    # What the workers sent is kept. (The BN model may still be compiling when the plain one
    # reaches epoch 2, so only models that finished an epoch must have curve points.)
    assert all(m.curve.t for m in run.models.values() if m.history.loss)


@pytest.mark.parametrize("sig", SIGNALS)
def test_the_claims_tab_saves_a_live_battery_on_stop_signals(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "claims.json"
    proc, master = in_terminal(["claims", "gradients", "--scale", "tiny", "--out", str(out)])
    try:
        until_drawn(master, re.compile(rb"LIVE"))
        deadline = time.monotonic() + 120  # a bound against a hang, not a pace
        while not workers_of(proc, "spawn_main") and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = workers_of(proc, "spawn_main")
        assert workers, "no worker process started"
        assert send(proc, master, sig) == 128 + sig
        assert_gone(workers)
        saved = load_claims(out)
        assert saved.status == "interrupted"
        assert all(cell.status == "done" for cell in saved.cells)  # none blamed for the stop
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", SIGNALS)
@pytest.mark.parametrize("file", [SMALL_RUN, DATA / "claims_tiny.json"], ids=["run", "claims"])
def test_a_replay_exits_128_plus_n_on_stop_signals(file: Path, sig: int) -> None:
    proc, master = in_terminal(["replay", str(file), "--speed", "1"])
    try:
        until_drawn(master, re.compile(rb"REPLAY"))
        assert send(proc, master, sig) == 128 + sig
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_finished_live_run_says_where_it_was_saved_after_the_screen_closes(
    tmp_path: Path,
) -> None:
    """`q` on a finished run leaves the dashboard, then one line says where the file is: in
    the terminal, after Textual gave it back (an app attribute of Textual's own once hid it)."""
    out = tmp_path / "run.json"
    proc, master = in_terminal(["run", "--limit", "1000", "--epochs", "1", "--out", str(out)])
    try:
        until_drawn(master, re.compile(rb"DONE"))
        os.write(master, b"q")
        os.set_blocking(master, True)
        reader = threading.Thread(target=lambda: said.append(drain(master, 30)), daemon=True)
        said: list[bytes] = []
        reader.start()
        assert proc.wait(timeout=60) == 0
        reader.join(timeout=40)
        assert f"run saved to {out} (completed)".encode() in b"".join(said)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
