"""A run's workers started before bntui's command line is parsed.

A worker's imports (JAX, Keras: about a second) are the start of a run's critical path, and
parsing bntui's command line (typer, pydantic: 0.2-0.3 s) used to come before them. For a
command that asks for a run, `prestart` spawns the default run's two workers at once; each
imports Keras and its backend and waits for its job on stdin (bntui.training.waiting). Once
the command is parsed, `bntui.procs.supervisor.start_pair` hands the workers their jobs when
they started as the run's own would (the same environment and cores: the backend, threads,
GPUs); otherwise, or when the command stops with an error, they are stopped before bntui
exits. `BNTUI_PRESTART=0` turns this off.
"""

from __future__ import annotations

import atexit
import os

from bntui.core.spec import build_spec
from bntui.procs.supervisor import Supervisor

# Options that change how a worker must start: with any of them the run's own workers
# would differ from the default's, so none are started early. (A preset that differs is
# caught when the jobs are handed over.)
STARTS_DIFFERENTLY = ("--backend", "--faithful", "--devices", "--cpu", "--threads", "--help")

# The options of `bntui` itself; any other option before a command is `run`'s.
OWN_OPTIONS = ("--help", "--version")

_waiting: Supervisor | None = None


def with_run_made_explicit(argv: list[str]) -> list[str]:
    """bntui's arguments `argv` (without the program's name) with the `run` they imply:
    `bntui --epochs 3` is `bntui run --epochs 3`, as `bntui` alone is `bntui run`."""
    if argv and argv[0].startswith("-") and argv[0].split("=", 1)[0] not in OWN_OPTIONS:
        return ["run", *argv]
    return argv


def asks_for_a_run(argv: list[str]) -> bool:
    """Whether bntui's arguments `argv` (without the program's name) start a training run:
    `bntui` alone, `bntui run ...` or `run`'s options alone, without the options that
    change the workers."""
    argv = with_run_made_explicit(argv)
    if argv and argv[0] != "run":
        return False
    return not any(arg.split("=", 1)[0] in STARTS_DIFFERENTLY for arg in argv)


def prestart(argv: list[str]) -> None:
    """Spawn the default run's workers, waiting for their jobs, if `argv` asks for a run."""
    global _waiting
    if os.environ.get("BNTUI_PRESTART") == "0" or not asks_for_a_run(argv):
        return
    waiting: Supervisor | None = None
    try:
        waiting = Supervisor(build_spec())
        waiting.spawn_waiting()
    except Exception:
        # The run then starts its workers the usual way, and reports any failure there.
        if waiting is not None:
            waiting.stop(grace=0)
        return
    _waiting = waiting
    atexit.register(discard)


def take_waiting() -> Supervisor | None:
    """The workers `prestart` spawned, now the caller's to start or stop; None if none."""
    global _waiting
    waiting, _waiting = _waiting, None
    return waiting


def discard() -> None:
    """Stop workers that were never given a job (the command asked for no run after all)."""
    waiting = take_waiting()
    if waiting is not None:
        waiting.stop(grace=0)
