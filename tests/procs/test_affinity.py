"""bntui's own process shares the plain worker's cores while a pair trains, every thread of
it, and gets its own cores back afterwards."""

from __future__ import annotations

import os
import threading

import pytest

from bntui.procs import affinity
from bntui.procs.affinity import available_cores, release_cores, share_cores_with
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
