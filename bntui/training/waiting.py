"""A worker started before its job is known (bntui.procs.prestart): it imports what every
run needs, Keras and its backend, while bntui parses its command line, then takes its job.

The job comes as one JSON line on stdin; after it, stdin stays open and closing it stops
the worker, as for any worker. If stdin closes before a job came (the command asked for no
run after all, or bntui stopped), the worker exits at once, whatever it was importing.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any


def await_job(watch_parent: Callable[[], None]) -> dict[str, Any]:
    """Import Keras and the training side, then the job sent on stdin, as a dict.
    `watch_parent` then keeps reading stdin, to stop the worker when it closes."""
    jobs: queue.Queue[bytes] = queue.Queue()

    def read_job() -> None:
        line = sys.stdin.buffer.readline()
        if not line.endswith(b"\n"):
            os._exit(0)  # no job will come: nothing was started, nothing to report
        jobs.put(line)
        watch_parent()

    threading.Thread(target=read_job, daemon=True).start()
    preload()
    return dict(json.loads(jobs.get()))


def preload() -> None:
    """Import what a run imports on its way to a built model, before the job is known:
    Keras with the backend its environment names, and on JAX the fused and stored steps.
    None of it starts the backend, so a GPU's warnings are still heard (watch_backend_log)."""
    import keras  # noqa: F401  (the backend comes from KERAS_BACKEND, set at spawn)

    import bntui.training.models

    if os.environ.get("KERAS_BACKEND") == "jax":
        import bntui.training.fused
        import bntui.training.initial
        import bntui.training.programs  # noqa: F401
