"""bntui's own process shares the plain worker's cores while a pair trains, every thread of
it, and gets its own cores back afterwards; a worker starts on its own cores."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from bntui.procs import affinity
from bntui.procs.affinity import available_cores, release_cores, share_cores_with, spawned_on
from bntui.procs.supervisor import worker_cores

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux and two cores",
)


def test_every_thread_is_pinned_and_given_back_its_cores() -> None:
    own = os.sched_getaffinity(0)
    first = min(own)
    started, finish = threading.Event(), threading.Event()
    seen: dict[str, set[int]] = {}

    def bystander() -> None:  # a thread that was running before the pin (a reader, say)
        started.set()
        finish.wait()
        seen["at end"] = os.sched_getaffinity(0)

    thread = threading.Thread(target=bystander)
    thread.start()
    started.wait()
    try:
        assert share_cores_with([first])
        assert os.sched_getaffinity(0) == {first}
        assert thread.native_id is not None
        assert os.sched_getaffinity(thread.native_id) == {first}
        # What the workers are spread over is still every core this process had.
        assert available_cores() == sorted(own)
        assert worker_cores(1, len(own)) == [[core] for core in sorted(own)]
    finally:
        release_cores()
    assert os.sched_getaffinity(0) == own
    finish.set()
    thread.join()
    assert seen["at end"] == own
    assert affinity._own_cores is None  # not pinned: nothing remembered


def test_releasing_without_pinning_changes_nothing() -> None:
    own = os.sched_getaffinity(0)
    release_cores()
    assert os.sched_getaffinity(0) == own


def test_a_core_this_process_may_not_use_leaves_it_as_it_was() -> None:
    own = os.sched_getaffinity(0)
    try:
        assert not share_cores_with([max(own) + 4096])
    finally:
        release_cores()
    assert os.sched_getaffinity(0) == own


def test_a_process_spawned_on_cores_starts_there_and_the_spawner_keeps_its_own() -> None:
    own = os.sched_getaffinity(0)
    last = max(own)
    report = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]
    with spawned_on([last]):
        child = subprocess.run(report, capture_output=True, text=True, check=True)
    assert child.stdout.split() == [f"[{last}]"]
    assert os.sched_getaffinity(0) == own
    with spawned_on(None):  # no cores of its own: wherever this process may run
        child = subprocess.run(report, capture_output=True, text=True, check=True)
    assert child.stdout.strip() == str(sorted(own))
