"""Shared fixtures: the recorded run (a real bntui run on a 2,000-image slice) and paths."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from bntui.runfile import RunFile, load_run

DATA = Path(__file__).parent / "data"
SMALL_RUN = DATA / "small_run.json"
# `bntui sweep --preset fashion-sgd-lr0.01 --batch-sizes 32,128 --limit 2000 --epochs 3
#  --target 0.6 --headless`: a real recorded sweep.
SMALL_SWEEP = DATA / "small_sweep.json"


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
