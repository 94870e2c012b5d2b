"""How workers are started: their cores, threads and compile cache (no training here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bntui.core.spec import ExperimentSpec
from bntui.procs.supervisor import compile_cache_dir, worker_cores, worker_env


def test_each_worker_gets_cores_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    assert worker_cores(1) == [[0], [1]]
    assert worker_cores(4) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert worker_cores(5) is None  # not enough cores for both: no pinning
    monkeypatch.setenv("BNTUI_PIN_CORES", "0")
    assert worker_cores(1) is None


def test_pinning_follows_the_cores_bntui_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. `taskset -c 2,5 bntui`: the workers share out exactly those.
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {5, 2})
    assert worker_cores(1) == [[2], [5]]


def test_compile_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BNTUI_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache_dir() == tmp_path / "xdg" / "bntui" / "jax-compile"
    monkeypatch.setenv("BNTUI_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache_dir() == tmp_path / "mine" / "jax-compile"
    env = worker_env(ExperimentSpec(), threads=1)
    assert env["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "mine" / "jax-compile")
    assert env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    # A cache the user set up for JAX is left alone.
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "theirs"))
    assert worker_env(ExperimentSpec(), 1)["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "theirs")
