"""Workers started before bntui's command line is parsed (bntui.procs.prestart): a command that
asks for a run spawns the default run's pair at once; the pair is given the run when it
started as the run's own would, and is stopped otherwise, also when the command fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import assert_gone, bntui_command

from bntui.core.events import AWAIT_JOB, ModelDone, ModelReady
from bntui.core.spec import ExperimentSpec, build_spec
from bntui.procs import prestart
from bntui.procs import supervisor as supervision
from bntui.procs.supervisor import Supervisor, start_pair, waiting_worker_command


@pytest.mark.parametrize(
    ("argv", "asks"),
    [
        ([], True),  # `bntui` alone is `bntui run`
        (["run"], True),
        (["run", "--headless", "--epochs", "3", "--out", "r.json"], True),
        (["run", "--preset", "mnist-adam"], True),  # a preset's workers are checked later
        (["--epochs", "3", "--headless"], True),  # `run`'s options alone are `bntui run`
        (["--epochs=3"], True),
        (["--help"], False),
        (["--epochs", "3", "--backend", "tensorflow"], False),
        (["replay", "r.json"], False),
        (["sweep"], False),
        (["--version"], False),
        (["run", "--help"], False),
        (["run", "--backend", "tensorflow"], False),
        (["run", "--faithful"], False),
        (["run", "--threads=1"], False),
        (["run", "--cpu"], False),
        (["run", "--devices", "0,1"], False),
    ],
)
def test_which_commands_start_workers_before_parsing(argv: list[str], asks: bool) -> None:
    assert prestart.asks_for_a_run(argv) is asks


def small_run() -> ExperimentSpec:
    return build_spec(limit=256, epochs=1, inside_per_epoch=0)


@pytest.mark.slow
def test_waiting_workers_are_given_the_run_they_started_for() -> None:
    waiting = Supervisor(build_spec())  # the default run, as `bntui run` starts it
    waiting.spawn_waiting()
    early = {key: proc.pid for key, proc in waiting.procs.items()}
    supervisor = start_pair(small_run(), None, waiting)
    assert supervisor is not None
    try:
        assert {key: proc.pid for key, proc in supervisor.procs.items()} == early
        assert supervisor.started == waiting.started  # the workers' clock: their own start
        events = list(supervisor.events())
    finally:
        supervisor.stop()
    ready = [e for e in events if isinstance(e, ModelReady)]
    assert sorted(e.model for e in ready) == ["bn", "plain"]
    assert all(e.t > 0 for e in ready)
    done = sorted((e.model, e.status) for e in events if isinstance(e, ModelDone))
    assert done == [("bn", "completed"), ("plain", "completed")]


@pytest.mark.slow
@pytest.mark.parametrize("waiting", [True, False])
def test_the_bn_worker_the_runs_critical_path_is_spawned_first_each_on_its_cores(
    monkeypatch: pytest.MonkeyPatch, waiting: bool
) -> None:
    spawned: list[str] = []
    born_on: dict[str, set[int]] = {}
    spawn = supervision.spawn_worker

    def spawn_and_note(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        start = json.loads(command[-1])  # its job, or its start
        spawned.append(start["model"])
        if hasattr(os, "sched_getaffinity"):  # the cores the child inherits
            born_on[start["model"]] = os.sched_getaffinity(0)
        return spawn(command, env)

    monkeypatch.setattr(supervision, "spawn_worker", spawn_and_note)
    pair = Supervisor(small_run())
    try:
        if waiting:
            pair.spawn_waiting()
        else:
            pair.start()
        assert spawned == ["bn", "plain"]
        assert list(pair.procs) == ["plain", "bn"]  # kept in the models' order
        for key, (_, cores) in pair.worker_setups().items():
            if cores:  # pinned: each worker starts on its own cores
                assert born_on[key] == set(cores)
    finally:
        pair.stop(grace=0)
    assert all(proc.poll() is not None for proc in pair.procs.values())


@pytest.mark.slow
def test_a_pair_whose_second_spawn_fails_leaves_no_waiting_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The BN worker spawns, the plain one's spawn fails (as with too many processes): the BN
    # worker must be reaped, and the run then starts its workers the usual way.
    popen = subprocess.Popen
    spawned: list[subprocess.Popen[bytes]] = []

    def second_fails(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        if spawned:
            raise OSError("no more processes")
        spawned.append(popen(*args, **kwargs))
        return spawned[0]

    monkeypatch.setattr(supervision.subprocess, "Popen", second_fails)
    prestart.prestart(["run"])
    assert prestart.take_waiting() is None
    assert len(spawned) == 1 and spawned[0].poll() is not None  # reaped, not left running


@pytest.mark.slow
def test_waiting_workers_started_differently_are_stopped_and_the_run_spawns_its_own() -> None:
    waiting = Supervisor(build_spec(), threads=1)
    waiting.spawn_waiting()
    early = list(waiting.procs.values())
    # Two threads a worker: another thread budget, so other workers (and, on two cores or
    # fewer, no pinning).
    supervisor = start_pair(small_run(), 2, waiting)
    assert supervisor is not None
    try:
        assert all(proc.poll() is not None for proc in early)
        assert not {p.pid for p in early} & {p.pid for p in supervisor.procs.values()}
        done = [e for e in supervisor.events() if isinstance(e, ModelDone)]
    finally:
        supervisor.stop()
    assert sorted((e.model, e.status) for e in done) == [
        ("bn", "completed"),
        ("plain", "completed"),
    ]


def test_a_waiting_worker_whose_stdin_closes_before_a_job_exits_quietly() -> None:
    done = subprocess.run(
        waiting_worker_command("bn", None),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=300,
    )
    assert (done.returncode, done.stdout) == (0, b"")
    assert b"Traceback" not in done.stderr


@pytest.mark.slow
def test_a_command_that_stops_with_an_error_leaves_no_waiting_worker(tmp_path: Path) -> None:
    # A mark in the environment that every worker bntui starts inherits.
    mark = f"BNTUI_TEST_MARK={uuid.uuid4()}"
    env = {**os.environ, mark.split("=")[0]: mark.split("=")[1]}
    out = tmp_path / "taken.json"
    out.write_text("{}")
    probe = tmp_path / "spawned"
    # Count the workers bntui starts: a wrapper around subprocess.Popen in its own process.
    (tmp_path / "sitecustomize.py").write_text(
        "import subprocess\n"
        "real = subprocess.Popen.__init__\n"
        "def counted(self, args, *a, **k):\n"
        f"    open({str(probe)!r}, 'a').write(' '.join(map(str, args)) + chr(10))\n"
        "    real(self, args, *a, **k)\n"
        "subprocess.Popen.__init__ = counted\n"
    )
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path])
    done = subprocess.run(
        [*bntui_command(), "run", "--headless", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2
    assert "already exists" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    spawned = probe.read_text().splitlines()
    assert len(spawned) == 2 and all(AWAIT_JOB in line for line in spawned)
    marked = []
    for proc in psutil.process_iter():
        try:
            if mark in "\0".join(f"{k}={v}" for k, v in proc.environ().items()):
                marked.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    assert_gone(marked)


def test_a_waiting_workers_command_names_its_model_and_cores() -> None:
    command = waiting_worker_command("plain", [0])
    assert command[-2] == AWAIT_JOB
    assert json.loads(command[-1]) == {"model": "plain", "cores": [0]}
