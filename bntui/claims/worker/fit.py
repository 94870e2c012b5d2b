"""The notebooks' harness for claim `cost`: Keras `model.fit` on the TensorFlow backend, as
the notebooks train. A worker runs on JAX, and a process has one Keras backend, so the cell
runs in a child process (`python -m bntui.claims.worker.fitrun`) with
`KERAS_BACKEND=tensorflow`; this module starts it and reads its results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from bntui.claims.cells import CellSpec


class HarnessError(RuntimeError):
    """The child process failed: its last line of output says why."""


def run_fit_cell(
    cell: CellSpec, progress: Callable[[float], None] | None = None
) -> list[dict[str, Any]]:
    """Train `cell` with Keras `fit` on TensorFlow in a child process; each seed's results."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen(
        [sys.executable, "-m", "bntui.claims.worker.fitrun"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps(cell.to_dict()))
    child.stdin.close()
    results: list[dict[str, Any]] = []
    for line in child.stdout:
        message = json.loads(line)
        if "progress" in message and progress is not None:
            progress(float(message["progress"]))
        if "results" in message:
            results = message["results"]
    error = child.stderr.read() if child.stderr else ""
    if child.wait() != 0 or not results:
        last = [line for line in error.splitlines() if line.strip()][-1:] or ["no output"]
        raise HarnessError(f"Keras fit on TensorFlow failed: {last[0][:300]}")
    return results
