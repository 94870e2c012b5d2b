"""What every bntui command shares: one-line failures and checked output paths.

Bad input gets one line on stderr and exit code 2, before anything trains.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import typer

from bntui.core.spec import ExperimentSpec
from bntui.core.text import say

# A run file's name, with room for the temporary file written beside it (`.NAME.xxxxxxxx.tmp`)
# and a fallback's `-N`, within the 255 bytes a Linux file name may have.
MAX_OUT_NAME = 200


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit (2 = bad input)."""
    say(f"bntui: error: {message}", sys.stderr)
    raise typer.Exit(code)


def default_out(spec: ExperimentSpec, suffix: str = "") -> Path:
    """`runs/<timestamp>-<preset><suffix>.json` in the current folder."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{spec.preset}{suffix}.json"


def check_out(out: Path | None, default: Path) -> Path:
    """Choose and check the run file path; never overwrite an existing file."""
    if out is None:
        out = default
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"cannot create {out.parent}/ for the run file ({exc.strerror}); use --out")
    folder = out.parent
    name = os.fsencode(out.name)
    if not name or b"\0" in os.fsencode(str(out)):
        fail(f"--out {out} is not a file name")
    if len(name) > MAX_OUT_NAME:
        fail(f"--out file name is {len(name)} bytes long; at most {MAX_OUT_NAME}")
    try:
        if out.is_dir():
            fail(f"--out {out} is a folder; give a file name such as {out / 'run.json'}")
        if out.exists() or out.is_symlink():
            fail(f"--out {out} already exists; bntui never overwrites a run file")
        if not folder.is_dir():
            fail(f"--out folder {folder} does not exist")
    except OSError as exc:  # a path too long, a loop of symlinks...
        fail(f"--out {out}: {exc.strerror or exc}")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"--out folder {folder} is not writable")
    return out


def check_threads(threads: int | None) -> None:
    """Fail unless `--threads` is between 1 and the cores this process may use."""
    if threads is None:
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if not 1 <= threads <= cores:
        fail(f"--threads must be 1 to {cores} (the cores available here), per worker")


def writable_dir(folder: Path | None, option: str) -> str | None:
    """Create `folder` if needed and return its absolute path; fail if it cannot be written."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{option} {folder}: cannot create it ({exc.strerror or exc})")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"{option} {folder} is not writable")
    return str(folder.resolve())


# typer checks option values with pydantic and says what pydantic says; a learner reads the
# option's own words, as bntui's other checks give them (`--epochs must be ...`).
PYDANTIC_WORDS = {
    "Input should be a valid integer, unable to parse string as an integer": "not a whole number",
    "Input should be a valid integer": "not a whole number",
    "Input should be a valid number, unable to parse string as a number": "not a number",
    "Input should be a valid number": "not a number",
}


def in_plain_words(message: str) -> str:
    """A usage error's message with pydantic's phrases (`--epochs abc`) in plain words."""
    for phrase, plain in PYDANTIC_WORDS.items():
        message = message.replace(phrase, plain)
    return message
