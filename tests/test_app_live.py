"""The dashboard on a real live run: q asks first, then stops the workers and saves."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from bntui.app import BntuiApp
from bntui.runfile import load_run
from bntui.screens.confirm import ConfirmScreen
from bntui.session import LiveSession
from bntui.spec import build_spec

pytestmark = pytest.mark.slow


async def test_quit_during_training_confirms_then_saves(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    session = LiveSession(build_spec(limit=2000, epochs=200), out)
    app = BntuiApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not session.run.models["plain"].history.loss:
            await pilot.pause(0.2)
        pids = session.supervisor.pids
        assert all(psutil.pid_exists(p) for p in pids)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep training
        assert not isinstance(app.screen, ConfirmScreen)
        assert not session.finished.is_set()
        await pilot.press("q")
        await pilot.press("y")
        while time.monotonic() < deadline and session.saved_path is None:
            await pilot.pause(0.2)
    assert app.finish_live() == 0
    run = load_run(out)
    assert run.status == "interrupted"
    assert len(run.models["plain"].history.loss) >= 1
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
