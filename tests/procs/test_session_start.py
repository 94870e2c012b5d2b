"""A live session starts its first pair of workers before the dashboard or the progress lines
load (their start-up overlaps), once, and the stream reads that same pair; a pair that fails
to start early is stopped and left to the stream, which reports the failure as before."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bntui.core.events import ModelDone
from bntui.core.spec import build_spec
from bntui.procs.supervisor import Supervisor
from bntui.session.sessions import LiveSession, TrainingSession


@pytest.mark.slow
def test_start_spawns_the_first_pair_once_and_the_stream_reads_it(tmp_path: Path) -> None:
    session = LiveSession(build_spec(limit=256, epochs=1, inside_per_epoch=0), tmp_path / "r.json")
    try:
        session.start()
        first = session.supervisor
        assert first is not None and sorted(first.procs) == ["bn", "plain"]
        session.start()  # again (the dashboard's stream does): nothing new
        assert session.supervisor is first
        done = [e for e in session.events() if isinstance(e, ModelDone)]
        assert session.supervisor is first
        assert sorted((e.model, e.status) for e in done) == [
            ("bn", "completed"),
            ("plain", "completed"),
        ]
        assert all(proc.poll() is not None for proc in first.procs.values())
    finally:
        session.close()


@pytest.mark.slow
def test_a_session_stopped_before_its_stream_stops_the_started_workers(tmp_path: Path) -> None:
    session = LiveSession(build_spec(limit=256, epochs=50), tmp_path / "r.json")
    try:
        session.start()
        assert session.supervisor is not None
        procs = list(session.supervisor.procs.values())
        session.stop()
        assert all(proc.poll() is not None for proc in procs)
        assert list(session.events()) == []  # interrupted: no pair starts
    finally:
        session.close()


@pytest.mark.slow
def test_a_pair_that_fails_to_start_early_is_reaped_and_started_by_the_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second worker's spawn fails once (as with too many processes): the first, already
    # running, must not go on training; the stream then starts the pair as it always did.
    real_popen = subprocess.Popen
    spawned: list[Any] = []

    def popen(*args: Any, **kwargs: Any) -> Any:
        if len(spawned) == 1:
            spawned.append(None)
            raise OSError("no more processes")
        proc = real_popen(*args, **kwargs)
        spawned.append(proc)
        return proc

    monkeypatch.setattr("bntui.procs.supervisor.subprocess.Popen", popen)
    session = LiveSession(build_spec(limit=256, epochs=1, inside_per_epoch=0), tmp_path / "r.json")
    try:
        session.start()
        assert session.supervisor is None
        assert spawned[0].poll() is not None  # the first worker was reaped
        done = [e for e in session.events() if isinstance(e, ModelDone)]
        assert sorted((e.model, e.status) for e in done) == [
            ("bn", "completed"),
            ("plain", "completed"),
        ]
    finally:
        session.close()


def test_a_failure_to_start_early_surfaces_in_the_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Supervisor) -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(Supervisor, "start", refuse)
    session = LiveSession(build_spec(limit=256, epochs=1), tmp_path / "r.json")
    session.start()  # no exception here, before the dashboard or the progress lines exist
    assert session.supervisor is None
    with pytest.raises(OSError, match="no more processes"):
        list(session.events())  # where the dashboard and the progress lines report it


def test_only_this_machines_supervisor_starts_early(tmp_path: Path) -> None:
    class Elsewhere(Supervisor):
        """Stands for a Ray cluster's supervisor: connecting belongs to the stream."""

    specs = [build_spec(limit=256, epochs=1)]
    session = TrainingSession(specs, tmp_path / "r.json", None, Elsewhere)
    session.start()
    assert session.supervisor is None
