"""Python code run in a fresh interpreter, as a worker starts: what it printed."""

from __future__ import annotations

import subprocess
import sys


def fresh_output(code: str, *args: str, env: dict[str, str]) -> str:
    """Run `code` with `args` in a new interpreter under `env`; its output, once it exited 0."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
