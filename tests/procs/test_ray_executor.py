"""The battery and the sweep on a real local Ray cluster (2 CPUs and one logical GPU, so that
two cells share a GPU while JAX, finding none, trains on the CPU): the same numbers as the
local executor, progress while cells run, a cell that raises fails alone, a worker killed
runs its cell again, a stop saves the file interrupted and another executor resumes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from conftest import bntui_command
from ray_helpers import no_ray_left, numbers

from bntui.claims.battery import SCALES, plan
from bntui.claims.claimfile import ClaimsFile, load_claims
from bntui.claims.events import CellEnded, CellProgress
from bntui.claims.runner import BatteryRun, train_cell
from bntui.core.events import BatchProgress, EpochEnd, ModelDone
from bntui.core.spec import build_spec
from bntui.procs.raycluster import Cluster, connect, loopback_only
from bntui.procs.scheduler import Failed, Finished, Scheduler
from bntui.record.sweep import sweep_specs
from bntui.session.sessions import SweepSession

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """One real cluster for the module (starting one takes seconds)."""
    loopback_only()  # the tests' cluster too: its servers on 127.0.0.1 alone
    with no_ray_left():
        ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False,
                 log_to_driver=False, logging_level="ERROR",
                 object_store_memory=128 * 2**20)  # fmt: skip
        # The test's own jobs reach the workers by value (this module is not importable there).
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        try:
            yield connect()
        finally:
            ray.shutdown()


@pytest.fixture(autouse=True)
def nothing_left_behind(cluster: Cluster) -> Iterator[None]:
    """No Ray process a test started outlives it (the module's cluster stays)."""
    with no_ray_left(keep_own=True):
        yield


def run_battery(run: BatteryRun) -> list[Any]:
    return list(run.events())


def test_a_battery_through_ray_equals_the_local_one(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bntui.procs.ray_executor import RayExecutor

    # The cells of a GPU task are not pinned to a core (JAX falls back to the CPU here), so
    # neither are the local workers they are compared with: a pinned XLA sees one core and
    # sums in another order.
    monkeypatch.setenv("BNTUI_PIN_CORES", "0")
    names = ["gradients", "cost"]
    executor = RayExecutor(train_cell, cluster)
    assert executor.capacity == 2  # two cells on the one GPU
    run = BatteryRun(ClaimsFile(claims=names, scale="tiny", seed=42), tmp_path / "ray.json",
                     executor=executor)  # fmt: skip
    progressed, ended, shared = set(), set(), False
    for event in run.events():
        if isinstance(event, CellProgress) and event.cell not in ended:
            progressed.add(event.cell)
        elif isinstance(event, CellEnded):
            ended.add(event.result.id)
        if len(executor.placed) == 2 and not ended:  # both cells run: a half GPU each
            shared = shared or ray.available_resources().get("GPU", 0) == 0
    assert shared
    assert progressed == ended == {c.id for c in plan(names, SCALES["tiny"], 42)}

    local = BatteryRun(ClaimsFile(claims=names, scale="tiny", seed=42), tmp_path / "local.json")
    run_battery(local)
    assert load_claims(tmp_path / "ray.json").status == "completed"
    assert numbers(tmp_path / "ray.json") == numbers(tmp_path / "local.json")

    cells = {c.id: c for c in load_claims(tmp_path / "ray.json").cells}
    for cell in cells.values():
        assert cell.where is not None and cell.where.runs == 1
        assert "Ray node" in cell.where.node and "GPU 0" in cell.where.device
        assert {"python", "ray", "keras", "jax"} <= set(cell.where.versions)
    assert cells["cost/plain"].where.node == cells["cost/bn"].where.node  # type: ignore[union-attr]
    assert all(c.where is None for c in load_claims(tmp_path / "local.json").cells)


@dataclass(frozen=True)
class Job:
    id: str
    mark: str = ""
    work: float = 1.0
    exclusive: bool = False


def flaky(job: Job, progress: Any) -> str:
    """Raises, or waits to be killed the first time it runs, or does its work."""
    if job.id == "raises":
        raise ValueError("no good")
    if job.id == "killed" and not Path(job.mark).exists():
        Path(job.mark).write_text(str(os.getpid()))
        time.sleep(300)  # the test kills this worker
    progress(0.5)
    return f"did {job.id}"


def test_a_cell_that_raises_fails_alone_and_a_killed_worker_runs_its_cell_again(
    cluster: Cluster, tmp_path: Path
) -> None:
    from bntui.procs.ray_executor import RayExecutor

    mark = tmp_path / "pid"

    def kill_the_worker() -> None:
        while not mark.exists() or not mark.read_text():
            time.sleep(0.05)
        os.kill(int(mark.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker, daemon=True)
    killer.start()
    executor = RayExecutor(flaky, cluster)
    jobs = [Job("killed", str(mark)), Job("raises"), Job("after")]
    ended: dict[str, Finished | Failed] = {}
    for event in Scheduler(jobs, executor).run():  # type: ignore[arg-type]
        if isinstance(event, Finished | Failed):
            ended[event.job] = event
    executor.stop()
    killer.join(timeout=5)
    raised, killed, after = ended["raises"], ended["killed"], ended["after"]
    assert isinstance(raised, Failed) and "ValueError: no good (" in raised.error
    assert isinstance(after, Finished) and after.result == "did after"
    assert isinstance(killed, Finished) and killed.result == "did killed"
    assert killed.where is not None and killed.where["runs"] == 2


def test_a_stopped_battery_is_saved_interrupted_and_resumes_on_another_executor(
    cluster: Cluster, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "claims.json"
    address = ray.get_runtime_context().gcs_address
    command = [*bntui_command(), "claims", "init", "--scale", "tiny", "--headless",
               "--executor", "ray", "--ray-address", address, "--out", str(out)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=clean_env)  # fmt: skip
    assert process.stdout is not None
    while "] cell " not in (line := process.stdout.readline()):
        assert line, process.communicate()[1]
    # ray.init sets a SIGTERM handler that exits at once: bntui's own must be back.
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err  # the exit-code table
    assert "resume with: bntui claims --resume" in err and "Traceback" not in err
    saved = load_claims(out)
    assert saved.status == "interrupted"
    assert saved.device.startswith(f"Ray cluster at {address}")
    finished = {cid: cell.model_dump() for cid, cell in saved.done().items()}
    assert 1 <= len(finished) < len(saved.plan())

    done = subprocess.run([*bntui_command(), "claims", "--resume", str(out), "--headless"],
                          capture_output=True, text=True, env=clean_env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    resumed = load_claims(out)
    assert resumed.status == "completed" and len(resumed.done()) == len(resumed.plan())
    assert all(resumed.done()[cid].model_dump() == cell for cid, cell in finished.items())
    assert all(cell.where is None for cid, cell in resumed.done().items() if cid not in finished)


def test_a_sweep_streams_each_pair_live_from_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    from bntui.procs.ray_sweep import RaySupervisor

    base = build_spec("fashion-sgd-lr0.01", epochs=1, limit=512)
    pairs = partial(RaySupervisor, cluster=cluster)
    session = SweepSession(sweep_specs(base, [32, 128]), 0.5, tmp_path / "sweep.json",
                           threads=1, supervisor=pairs)  # fmt: skip
    live: set[tuple[int, str]] = set()
    finished: set[tuple[int, str]] = set()
    for event in session.events():
        key = (event.run_index, event.model)
        if isinstance(event, BatchProgress | EpochEnd) and key not in finished:
            live.add(key)
        elif isinstance(event, ModelDone):
            finished.add(key)
    session.close()
    session.save()
    assert live == finished == {(0, "plain"), (0, "bn"), (1, "plain"), (1, "bn")}
    assert session.status == "completed"
    assert [run.spec.batch_size for run in session.sweep.runs] == [32, 128]
