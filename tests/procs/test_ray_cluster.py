"""Several nodes on one machine (`ray.cluster_utils.Cluster`): a head without CPUs, as
clusters often have, is refused in one line, as is a driver of another Ray version; with two
worker nodes the battery completes when one of them dies mid-cell, its cell run again on the
other and giving the numbers the local executor gives."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ray_helpers import no_ray_left, numbers

from bntui.claims.claimfile import ClaimsFile, load_claims
from bntui.claims.runner import BatteryRun, train_cell
from bntui.procs.raycluster import connect, loopback_only

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
# A dead node is noticed within about a second (Ray's default: 15 s or more).
FAST_HEALTH_CHECKS = {
    "health_check_initial_delay_ms": 0, "health_check_period_ms": 300,
    "health_check_timeout_ms": 300, "health_check_failure_threshold": 3,
}  # fmt: skip


@pytest.fixture(scope="module")
def nodes() -> Iterator[Any]:
    """A head node with no CPU, this process its driver; worker nodes are added by tests."""
    from ray.cluster_utils import Cluster

    loopback_only()  # every node's servers on 127.0.0.1 alone
    with no_ray_left():
        head = {"num_cpus": 0, "include_dashboard": False, "_system_config": FAST_HEALTH_CHECKS}
        cluster = Cluster(initialize_head=True, head_node_args=head)
        try:
            # Joined before other nodes exist: the driver's node is the head, never removed.
            ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()


def bntui_claims(address: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    args = ["bntui", "claims", "--headless", "--executor", "ray", "--ray-address", address]
    code = f"{prelude}\nimport sys\nsys.argv = {args!r}\nfrom bntui.cli.main import main\nmain()"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip


def test_a_cluster_without_a_cpu_and_another_ray_version_are_refused_in_one_line(
    nodes: Any,
) -> None:
    if ray.cluster_resources().get("CPU"):
        pytest.fail("this test needs the head alone (no CPU): it must run first")
    no_cpu = bntui_claims(nodes.address)
    assert no_cpu.returncode == 1, no_cpu.stderr
    assert "has no CPU; bntui's cells need one each" in no_cpu.stderr
    assert len(no_cpu.stderr.strip().splitlines()) == 1

    older = bntui_claims(nodes.address, "import ray; ray.__version__ = '2.0.0'")
    assert older.returncode == 1, older.stderr
    expected = (
        f"runs Ray {ray.__version__}, Python {sys.version.split()[0]}; this bntui runs Ray 2.0.0"
    )
    assert expected in older.stderr and len(older.stderr.strip().splitlines()) == 1


def test_the_battery_completes_when_a_node_dies_mid_cell(
    nodes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bntui.procs.ray_executor import RayExecutor

    workers = [nodes.add_node(num_cpus=1, include_dashboard=False) for _ in range(2)]
    nodes.wait_for_nodes()
    monkeypatch.setenv("BNTUI_PIN_CORES", "1")  # pinned, as the local workers are
    executor = RayExecutor(train_cell, connect())
    assert executor.capacity == 2
    run = BatteryRun(ClaimsFile(claims=["gradients"], scale="tiny", seed=42),
                     tmp_path / "ray.json", executor=executor)  # fmt: skip
    battery = threading.Thread(target=lambda: list(run.events()))
    battery.start()
    while not executor.placed:  # a cell has started on a node: before it has trained
        assert battery.is_alive()
        time.sleep(0.01)
    killed, placed = next(iter(executor.placed.items()))
    node_id = placed["node"].split("Ray node ")[1].rstrip(")")
    nodes.remove_node(next(w for w in workers if w.node_id.startswith(node_id)),
                      allow_graceful=False)  # fmt: skip
    battery.join(timeout=600)
    claims = load_claims(tmp_path / "ray.json")
    assert claims.status == "completed"
    rerun = claims.done()[killed].where
    assert rerun is not None and rerun.runs == 2 and node_id not in rerun.node

    local = BatteryRun(ClaimsFile(claims=["gradients"], scale="tiny", seed=42),
                       tmp_path / "local.json")  # fmt: skip
    list(local.events())
    assert numbers(tmp_path / "ray.json") == numbers(tmp_path / "local.json")
