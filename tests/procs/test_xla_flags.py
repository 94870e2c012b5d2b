"""The workers' XLA flags: bntui's additions, the user's own kept, none XLA would refuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bntui.core.spec import ExperimentSpec
from bntui.procs import xla_flags
from bntui.procs.supervisor import worker_env
from bntui.procs.xla_flags import REGION_ANALYSIS, worker_xla_flags


def test_the_installed_jaxlib_is_read_without_importing_it() -> None:
    jaxlib = pytest.importorskip("jaxlib.version")
    script = (
        "import sys; from bntui.procs.xla_flags import installed_jaxlib; "
        "print(installed_jaxlib(), 'jaxlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = tuple(int(part) for part in jaxlib._version.split(".")[:2])
    assert out == f"{expected} False"


def test_a_worker_gets_region_analysis_on_a_jaxlib_that_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setattr(xla_flags, "installed_jaxlib", lambda: (0, 10))
    words = worker_env(ExperimentSpec(), threads=1)["XLA_FLAGS"].split()
    assert REGION_ANALYSIS in words
    assert "--xla_cpu_multi_thread_eigen=false" in words


@pytest.mark.parametrize("jaxlib", [None, (0, 4)])
def test_a_jaxlib_without_the_flag_does_not_get_it(
    monkeypatch: pytest.MonkeyPatch, jaxlib: tuple[int, int] | None
) -> None:
    # XLA stops at start on a flag it does not know.
    monkeypatch.setattr(xla_flags, "installed_jaxlib", lambda: jaxlib)
    assert "region_analysis" not in worker_xla_flags("", 1, "jax")


def test_other_backends_get_no_jax_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xla_flags, "installed_jaxlib", lambda: (0, 10))
    assert worker_xla_flags("", 1, "tensorflow") == "--xla_cpu_multi_thread_eigen=false"


def test_the_users_own_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xla_flags, "installed_jaxlib", lambda: (0, 10))
    user = "--xla_cpu_copy_insertion_use_region_analysis=false --xla_cpu_multi_thread_eigen=true"
    assert worker_xla_flags(user, 1, "jax") == user
    assert worker_xla_flags("--xla_dump_to=/tmp/x", 2, "jax") == (
        "--xla_dump_to=/tmp/x " + REGION_ANALYSIS
    )
