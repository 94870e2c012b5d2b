"""A live session starts its first pair of workers before the dashboard or the progress lines
load (their start-up overlaps), once, and the stream reads that same pair (real workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bntui.core.events import ModelDone
from bntui.core.spec import build_spec
from bntui.procs.supervisor import Supervisor
from bntui.session.sessions import LiveSession, TrainingSession

pytestmark = pytest.mark.slow


def test_start_spawns_the_first_pair_once_and_the_stream_reads_it(tmp_path: Path) -> None:
    session = LiveSession(build_spec(limit=256, epochs=1, inside_per_epoch=0), tmp_path / "r.json")
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


def test_a_session_stopped_before_its_stream_stops_the_started_workers(tmp_path: Path) -> None:
    session = LiveSession(build_spec(limit=256, epochs=50), tmp_path / "r.json")
    session.start()
    assert session.supervisor is not None
    procs = list(session.supervisor.procs.values())
    session.stop()
    assert all(proc.poll() is not None for proc in procs)
    assert list(session.events()) == []  # interrupted: no pair starts


def test_only_this_machines_supervisor_starts_early(tmp_path: Path) -> None:
    class Elsewhere(Supervisor):
        """Stands for a Ray cluster's supervisor: connecting belongs to the stream."""

    session = TrainingSession(
        [build_spec(limit=256, epochs=1)], tmp_path / "r.json", None, Elsewhere
    )
    session.start()
    assert session.supervisor is None
