"""Fashion-MNIST with a home that cannot be written: read where it is, not reported missing;
and when it really is missing, the message says what, where and why."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import bntui_command

from bntui.core.datasets import FASHION_FILES, debian_fashion_dir
from bntui.record.runfile import load_run

pytestmark = pytest.mark.slow


def read_only_home(command: list[str], home: Path) -> list[str]:
    """`command` run with `home` read-only: as root (who may write anywhere) a read-only
    mount in a mount namespace of its own; otherwise a folder without write permission."""
    if os.geteuid() != 0:
        home.chmod(0o555)
        return command
    if shutil.which("unshare") is None:
        pytest.skip("root without unshare: cannot make a read-only home")
    mount = 'mount -t tmpfs -o ro tmpfs "$HOME" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", mount, "sh", *command]


def test_a_read_only_home_still_trains(tmp_path: Path, clean_env: dict[str, str]) -> None:
    if not all((debian_fashion_dir() / name).is_file() for name in FASHION_FILES):
        pytest.skip("the dataset-fashion-mnist package is not installed")
    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "run.json"
    env = {k: v for k, v in clean_env.items() if k not in ("KERAS_HOME", "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    args = ["run", "--headless", "--limit", "500", "--epochs", "1", "--inside", "0"]
    command = read_only_home([*bntui_command(), *args, "--out", str(out)], home)
    wrapper = command[: command.index(bntui_command()[0])]
    probe = subprocess.run([*wrapper, "sh", "-c", '! touch "$HOME/x" 2>/dev/null'], env=env)
    if probe.returncode != 0:
        pytest.skip("could not make the home read-only here")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    run = load_run(out)
    assert run.status == "completed"
    assert all(m.test and m.test.accuracy is not None for m in run.models.values())
    assert not (home / ".keras").exists()


def test_missing_data_says_what_where_and_why(tmp_path: Path, clean_env: dict[str, str]) -> None:
    env = clean_env | {
        "KERAS_HOME": str(tmp_path / "keras"),
        "BNTUI_DATASETS_DIR": str(tmp_path / "none"),
    }
    out = tmp_path / "run.json"
    args = ["run", "--headless", "--limit", "100", "--epochs", "1", "--out", str(out)]
    result = subprocess.run(
        [*bntui_command(), *args], env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode == 0:
        pytest.skip("this machine downloaded Fashion-MNIST")
    # No model trained a step: nothing is saved, and each reason is printed whole instead.
    assert not out.exists()
    error = " ".join((result.stdout + result.stderr).split())
    where = tmp_path / "keras" / "datasets" / "fashion-mnist"
    assert f"{where} has none of the four files" in error  # what and where
    assert "Keras could not download it (" in error  # why
    assert "apt-get install dataset-fashion-mnist" in error  # and how to get it


def test_the_download_error_is_cut_at_a_word_and_marked() -> None:
    """A long download error is said up to `WHY_LIMIT` characters in whole words, ending
    in " …" (cut at 120 characters it once read "-- [Er")."""
    from bntui.training.data import WHY_LIMIT, _fashion_message

    words = "URL fetch failure on https://example/train.gz: None -- [Errno -3] name " * 6
    message = _fashion_message(Exception(words))
    said = message.split("Keras could not download it (Exception: ", 1)[1]
    assert said.endswith(" …).") and len(said) <= WHY_LIMIT + 2
    kept = said.removesuffix(" …).").split()
    assert kept == words.split()[: len(kept)]  # whole words, in order, none cut
    short = _fashion_message(Exception("[Errno -3] Temporary failure in name resolution"))
    assert short.endswith("(Exception: [Errno -3] Temporary failure in name resolution).")
