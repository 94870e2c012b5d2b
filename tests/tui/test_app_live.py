"""The dashboard on a real live run: q asks first, then stops the workers and saves (exit 0);
a model that fails makes the exit code 1 (the one table, README "Exit codes")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import assert_gone
from screen import GIVE_UP_S, status_of, until

from bntui.core.events import Event, ModelDone
from bntui.core.spec import build_spec
from bntui.procs.supervisor import Supervisor
from bntui.record.runfile import load_run
from bntui.session.sessions import LiveSession
from bntui.tui.app import BntuiApp
from bntui.tui.screens.confirm import ConfirmScreen

pytestmark = pytest.mark.slow


async def test_quit_during_training_confirms_then_saves(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    session = LiveSession(build_spec(limit=2000, epochs=200), out)
    app = BntuiApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        # The first epoch's end in the dashboard's record (what its panels draw from).
        plain = lambda: app.dashboard.view.run.models["plain"]  # noqa: E731
        await until(pilot, lambda: len(plain().history.loss) >= 1, "the first epoch")
        assert session.supervisor is not None
        pids = session.supervisor.pids
        assert all(psutil.pid_exists(p) for p in pids)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep training
        assert not isinstance(app.screen, ConfirmScreen)
        assert "LIVE" in status_of(app) and not session.finished.is_set()
        await pilot.press("q")
        await pilot.press("y")
        await until(pilot, lambda: session.saved_path is not None, "the run saved")
    assert app.finish() == 0
    run = load_run(out)
    assert run.status == "interrupted"
    assert len(run.models["plain"].history.loss) >= 1
    assert_gone(pids)


async def test_a_question_left_open_goes_when_training_ends(tmp_path: Path) -> None:
    """Asked whether to stop, the user does not answer and training ends: the question
    (no longer true) goes, the status line says why, and the run is saved as completed."""
    out = tmp_path / "run.json"
    session = LiveSession(build_spec(limit=2000, epochs=4, inside_per_epoch=0), out)
    # The workers train as ever; the dashboard learns that a model is done only once the
    # question is open, however fast the machine trains this short run.
    asked = threading.Event()
    source = session._source

    def held_until_asked() -> Iterator[Event]:
        for event in source():
            if isinstance(event, ModelDone):
                asked.wait(GIVE_UP_S)  # the limit only bounds a failed test's wait
            yield event

    session._source = held_until_asked  # type: ignore[method-assign]
    app = BntuiApp(session)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "LIVE" in status_of(app), "the live status")
            await pilot.press("q")
            # The question is pushed on the app's next turn, not within the key press.
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            asked.set()
            await until(
                pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the question gone"
            )
            await until(pilot, lambda: "nothing to stop" in status_of(app), "the reason")
            await until(pilot, lambda: session.saved_path is not None, "the run saved")
    finally:
        asked.set()
    assert app.finish() == 0
    assert load_run(out).status == "completed"


class BnKilledAtItsStart(Supervisor):
    """This machine's supervisor, whose BN worker is killed (SIGKILL, as out of memory) as
    soon as it is spawned. The kill is sent by the thread that spawned it: from the test's
    own loop it could come after a short run's end on a busy machine, and then no model
    would fail (the full suite once gave up waiting for FAILED that way, it seems)."""

    def start(self, waiting: Supervisor | None = None) -> None:
        super().start(waiting)
        self.procs["bn"].kill()


async def test_a_failed_model_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    session = LiveSession(build_spec(limit=1000, epochs=2, inside_per_epoch=0), out)
    session.make_supervisor = BnKilledAtItsStart
    app = BntuiApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, app.stream_done.is_set, "the training's end")
        await until(pilot, lambda: "FAILED" in status_of(app), "FAILED on screen")
        await pilot.press("q")  # ended: no question
    assert app.return_value == 1 and app.finish() == 1
    run = load_run(out)
    assert run.status == "failed" and run.models["bn"].status == "failed"
    assert run.models["plain"].status == "completed"
