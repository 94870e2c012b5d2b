"""Shared fixtures: the recorded run (a real bntui run on a 2,000-image slice) and paths."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import psutil
import pytest

from bntui.record.runfile import RunFile, load_run

DATA = Path(__file__).parent / "data"
SMALL_RUN = DATA / "small_run.json"
# `bntui sweep --preset fashion-sgd-lr0.01 --batch-sizes 32,128 --limit 2000 --epochs 3
#  --target 0.6 --headless`: a real recorded sweep.
SMALL_SWEEP = DATA / "small_sweep.json"
# Recorded with `bntui run --headless --seeds 3 --limit 2000 --epochs 3`.
SMALL_SEEDS = DATA / "small_seeds.json"
# The small run as schema 2 (before seeds) wrote it: older files must still load.
SMALL_RUN_V2 = DATA / "small_run_v2.json"


@pytest.fixture(scope="session", autouse=True)
def private_compile_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Workers started by tests keep compiled steps in a folder of the test session's own,
    not in the user's ~/.cache."""
    os.environ["BNTUI_CACHE_DIR"] = str(tmp_path_factory.mktemp("bntui-cache"))


@pytest.fixture
def small_run() -> RunFile:
    """A run recorded with `bntui run --headless --limit 2000 --epochs 3`."""
    return load_run(SMALL_RUN)


@pytest.fixture
def small_run_path(tmp_path: Path) -> Path:
    """A writable copy of the recorded run file."""
    target = tmp_path / "small_run.json"
    shutil.copy(SMALL_RUN, target)
    return target


def bntui_command() -> list[str]:
    """How to start bntui in a subprocess, whatever the PATH."""
    return [sys.executable, "-m", "bntui"]


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """Environment for subprocess runs: no colour, no terminal, a private runs folder."""
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    env.pop("TERM", None)
    return env


def living(pids: list[int]) -> list[int]:
    """The processes among `pids` that still run (a zombie has ended: it only awaits its
    parent's wait)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def assert_gone(pids: list[int]) -> None:
    """Wait until none of `pids` runs any more (10 s at most: stopping takes well under)."""
    deadline = time.monotonic() + 10
    while living(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not living(pids), f"orphaned workers: {living(pids)}"
