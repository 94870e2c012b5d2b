"""What the Ray tests share: a real local cluster for a test module, and the check that no Ray
process outlives what started it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from bntui.claims.claimfile import load_claims

RAY_PARTS = ("/ray/_private/", "/ray/dashboard/", "/ray/core/src/", "/ray/autoscaler/")


def ray_processes() -> set[int]:
    """Every process on this machine that is part of a Ray cluster (its servers, agents and
    workers)."""
    found = set()
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        line = " ".join(info["cmdline"] or [])
        if (info["name"] in ("raylet", "gcs_server") or line.startswith("ray::")
                or any(part in line for part in RAY_PARTS)):  # fmt: skip
            found.add(process.pid)
    return found


def descendants(pid: int) -> set[int]:
    """The processes `pid` started, and theirs."""
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def wait_gone(pids: set[int], limit: float = 30) -> set[int]:
    """Wait until none of `pids` runs (Ray's reaper needs a few seconds); those still left."""
    deadline = time.monotonic() + limit
    left = {pid for pid in pids if psutil.pid_exists(pid)}
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = {pid for pid in ray_processes() if pid in left}
    return left


@contextmanager
def no_ray_left(keep_own: bool = False) -> Iterator[None]:
    """Fail if a Ray process started inside the block outlives it; with `keep_own`, except
    this process's own cluster's (a module's cluster stays for the next test)."""
    before = ray_processes()
    yield
    mine = descendants(os.getpid()) if keep_own else set()
    left = wait_gone(ray_processes() - before - mine)
    assert not left, f"Ray processes left running: {sorted(left)}"


def numbers(path: Any, skip_claims: tuple[str, ...] = ("cost",)) -> tuple[dict, list]:
    """A claims file's cells and verdicts without what the clock decides (times, the timed
    claim's verdict) or where it ran: what must be equal whatever executed it."""
    claims = load_claims(path)
    cells = {}
    for cell in claims.cells:
        data = cell.model_dump(exclude={"began", "seconds", "where"})
        for seed in data["results"]:
            seed.pop("epoch_seconds"), seed.pop("epoch_cpu_seconds")
            seed.pop("inference_seconds"), seed.pop("folded_inference_seconds")
        cells[cell.id] = data
    verdicts = [v.model_dump() for v in claims.verdicts if v.claim not in skip_claims]
    return cells, verdicts
