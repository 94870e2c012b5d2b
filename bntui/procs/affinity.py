"""bntui's own process kept off the core of the worker on the run's critical path.

The workers run at a lower priority than bntui's own process (so that the dashboard answers
keys at once), each pinned to cores of its own. bntui's process then takes its CPU time from
whichever worker shares its core: about 0.8 s over a default headless run and 5-8 s with the
dashboard drawing (`bench/RESULTS.md`, speed round 7), a third to a half of it on the BN
worker's core, the slower of the two and so the run's critical path. While a pair trains,
every thread of this process is pinned to the plain worker's cores; afterwards it gets back
the cores it had. Linux only (elsewhere nothing changes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# This process's cores before bntui pinned it (None while it is not pinned): what the
# workers are spread over.
_own_cores: frozenset[int] | None = None


def available_cores() -> list[int]:
    """The cores this process may use, as they were before any pinning here."""
    if _own_cores is not None:
        return sorted(_own_cores)
    return sorted(os.sched_getaffinity(0))


def share_cores_with(cores: list[int]) -> bool:
    """Pin every thread of this process to `cores`; False if it could not be done."""
    global _own_cores
    try:
        if _own_cores is None:
            _own_cores = frozenset(os.sched_getaffinity(0))
        return pin_every_thread(set(cores))
    except (AttributeError, OSError, ValueError):
        return False


def release_cores() -> None:
    """Give every thread of this process back the cores it had before `share_cores_with`."""
    global _own_cores
    if _own_cores is not None:
        try:
            pin_every_thread(set(_own_cores))
        except (AttributeError, OSError, ValueError):
            pass
        _own_cores = None


def pin_every_thread(cores: set[int]) -> bool:
    """Pin every thread of this process to `cores`; False if none could be pinned.

    sched_setaffinity(0, ...) pins only the calling thread, and a thread pool once started
    (XLA's, the readers, the dashboard's) would stay on the cores it was born on: each
    thread is pinned by id."""
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    pinned = False
    for tid in threads:
        try:
            os.sched_setaffinity(tid, cores)
            pinned = True
        except OSError:
            continue  # a thread that has just ended, or cores this process may not use
    return pinned


@contextmanager
def spawned_on(cores: list[int] | None) -> Iterator[None]:
    """While inside, a process this thread spawns starts on `cores` (a child inherits its
    parent thread's cores), so a worker owns its core from its first instruction instead of
    from the moment it pins itself; `cores` None changes nothing."""
    before = None
    if cores:
        try:
            before = os.sched_getaffinity(0)
            os.sched_setaffinity(0, set(cores))
        except (AttributeError, OSError, ValueError):
            before = None
    try:
        yield
    finally:
        if before is not None:
            try:
                os.sched_setaffinity(0, before)
            except OSError:
                pass
