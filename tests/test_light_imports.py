"""The UI and replay paths never load the training stack (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

from conftest import DATA, SMALL_RUN

PROBE = f"""
import sys, asyncio
import bntui.cli, bntui.app, bntui.session, bntui.replay, bntui.headless, bntui.data, bntui.device
from bntui.app import BntuiApp
from bntui.runfile import load_run
from bntui.session import ReplaySession

async def main():
    app = BntuiApp(ReplaySession(load_run({str(SMALL_RUN)!r}), speed=1000))
    async with app.run_test() as pilot:
        await pilot.press("e")
        await app.workers.wait_for_complete()
        while app.dashboard.view.run.models["bn"].test is None:
            await pilot.pause()
        for key in "12345":
            await pilot.press(key)
asyncio.run(main())
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "jax"))
print("HEAVY:" + ",".join(heavy))
# scipy.stats alone takes 1.5 s to import: a one-seed replay never needs it.
print("STATS:" + str("scipy.stats" in sys.modules))
"""


def test_ui_and_replay_never_import_keras() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY:\n" in result.stdout, result.stdout
    assert "STATS:False" in result.stdout


CLAIMS_PROBE = f"""
import sys, asyncio
import bntui.claims_app, bntui.claims.command, bntui.claims.replay
from bntui.claims.claimfile import load_claims
from bntui.claims_app import ClaimsApp

async def main():
    path = {str(DATA / "claims_tiny.json")!r}
    app = ClaimsApp.replay(load_claims(path), 1000, path)
    async with app.run_test() as pilot:
        while app.screen.view.ended is None:
            await pilot.pause()
        for key in ("j", "j", "j", "enter", "pagedown", "n", "escape"):
            await pilot.press(key)
asyncio.run(main())
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "jax"))
print("HEAVY:" + ",".join(heavy))
"""


def test_claims_tab_never_imports_keras() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CLAIMS_PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY:\n" in result.stdout, result.stdout
