"""The UI process never loads the training stack: not the dashboard, not replay, not the
start-up path of any command (each checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import DATA, SMALL_RUN, SMALL_SEEDS, SMALL_SWEEP

PROBE = f"""
import sys, asyncio
import bntui.cli.main, bntui.tui.app, bntui.session.sessions, bntui.record.replay
import bntui.outputs.headless, bntui.core.datasets, bntui.procs.supervisor
from bntui.tui.app import BntuiApp
from bntui.record.runfile import load_run
from bntui.session.sessions import ReplaySession

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
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "jax", "ray"))
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
import bntui.tui.claims_app, bntui.cli.claims, bntui.claims.replay
from bntui.claims.claimfile import load_claims
from bntui.tui.claims_app import ClaimsApp

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


COMMANDS_PROBE = f"""
import os, sys, tempfile
from typer.testing import CliRunner
import bntui.cli.main as cli

cli.train = lambda session, headless: print("TRAIN:" + type(session).__name__)
cli.start_first_pair = lambda spec, threads: None  # the probe trains nothing
tmp = tempfile.mkdtemp()
tiny = {str(DATA / "claims_tiny.json")!r}
commands = [
    ["run", "--epochs", "1", "--out", tmp + "/run.json"],
    ["run", "--seeds", "2", "--epochs", "1", "--out", tmp + "/seeds.json"],
    ["sweep", "--epochs", "1", "--out", tmp + "/sweep.json"],
    ["sweep", "--epochs", "1", "--executor", "local", "--out", tmp + "/sweep-local.json"],
    ["replay", {str(SMALL_RUN)!r}, "--headless", "--speed", "10000"],
    ["replay", {str(SMALL_SWEEP)!r}, "--headless", "--speed", "10000"],
    ["replay", tiny, "--headless"],
    ["compare", {str(SMALL_RUN)!r}, {str(SMALL_SEEDS)!r}, "--headless"],
    ["export", {str(SMALL_RUN)!r}, "--out-dir", tmp + "/export"],
    ["claims", "--report", tiny, "--out-dir", tmp + "/report"],
    # No Fashion-MNIST anywhere: fetched in a worker process, which fails there.
    ["claims", "--scale", "tiny", "--headless", "--out", tmp + "/claims.json"],
    ["claims", "--scale", "tiny", "--headless", "--executor", "local", "--out", tmp + "/c.json"],
]
os.environ["BNTUI_DATASETS_DIR"] = tmp + "/no-datasets"
os.environ["KERAS_HOME"] = tmp + "/no-keras-home"
for args in commands:
    result = CliRunner().invoke(cli.app, args)
    print("EXIT:" + args[0] + ":" + str(result.exit_code), result.output.splitlines()[-1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "jax"))
print("HEAVY:" + ",".join(heavy))
side = sorted(m for m in sys.modules if m.startswith(("bntui.training", "bntui.claims.worker")))
print("WORKER-SIDE:" + ",".join(side))
# Ray (an extra) loads only for --executor ray.
print("RAY:" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] == "ray")))
"""


def test_no_command_imports_keras_or_the_worker_side_in_the_ui_process() -> None:
    result = subprocess.run(
        [sys.executable, "-c", COMMANDS_PROBE], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("TRAIN:") == 4, out  # run, run --seeds, the sweeps reach training
    for command in ("replay", "compare", "export"):
        assert f"EXIT:{command}:0" in out, out
    assert out.count("EXIT:claims:0") == 1, out  # the report
    assert "EXIT:claims:1" in out and "Fashion-MNIST is not on this machine" in out, out
    assert "HEAVY:\n" in out, out
    assert "WORKER-SIDE:\n" in out, out
    assert "RAY:\n" in out, out


EARLY_SPAWN_PROBE = """
import os, subprocess, sys
import bntui.cli.main as cli

def spawned(command, *args, **kwargs):
    loaded = [m for m in ("bntui.session.sessions", "bntui.record.files", "bntui.claims.battery")
              if m in sys.modules]
    print("SPAWN:" + " ".join(command[1:3]) + ":" + ",".join(loaded), flush=True)
    os._exit(0)  # nothing trains

subprocess.Popen = spawned
sys.argv = ["bntui", "run", "--headless", "--epochs", "1", "--out", sys.argv[1]]
cli.main()
"""


def test_run_spawns_its_workers_before_the_session_and_claims_modules_load(
    tmp_path: Path,
) -> None:
    """The workers' start-up is the run's critical path: bntui spawns them before it imports
    the session, the run file's records (pydantic) or the claims battery (NumPy)."""
    result = subprocess.run(
        [sys.executable, "-c", EARLY_SPAWN_PROBE, str(tmp_path / "run.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["SPAWN:-m bntui.training:"], result.stdout
    assert not (tmp_path / "run.json").exists()


def test_the_claims_command_loads_only_when_asked_for() -> None:
    probe = (
        "import sys; from typer.testing import CliRunner; import bntui.cli.main as cli; "
        "print('BATTERY:' + str('bntui.claims.battery' in sys.modules)); "
        "listed = CliRunner().invoke(cli.app, ['--help']).output; "
        "print('LISTED:' + str('Put the notebooks' in listed)); "
        "print('CLAIMS:' + CliRunner().invoke(cli.app, ['claims', '--help']).output.split()[0])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["BATTERY:False", "LISTED:True", "CLAIMS:Usage:"]
