"""`--executor` and `--ray-address`, shared by `bntui claims` and `bntui sweep`: check them,
and join the Ray cluster when asked. Ray is loaded only then (it is an extra).

A cluster joined here is left when bntui exits, and a private one stops with it.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from bntui.cli.common import fail
from bntui.core.text import say

if TYPE_CHECKING:
    from bntui.procs.ray_executor import RayExecutor
    from bntui.procs.raycluster import Cluster
    from bntui.procs.supervisor import Supervisor

EXECUTORS = ("local", "ray")
EXECUTOR_HELP = (
    "Where the training runs: local (worker processes on this machine) or ray (tasks on a "
    "Ray cluster's nodes; needs the ray extra)."
)
RAY_ADDRESS_HELP = (
    "The Ray cluster to join (HOST:PORT, as ray start prints). Default: RAY_ADDRESS, else a "
    "cluster started on this machine with ray start, else a private one bntui starts and stops."
)
ExecutorOption = Annotated[str, typer.Option(help=EXECUTOR_HELP)]
RayAddressOption = Annotated[str | None, typer.Option(help=RAY_ADDRESS_HELP, show_default=False)]


def check_executor(executor: str, address: str | None) -> None:
    """Fail (one line, exit 2) unless the options make sense together."""
    if executor not in EXECUTORS:
        fail(f"--executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    if address is not None and executor != "ray":
        fail("--ray-address goes with --executor ray")


def join(address: str | None) -> Cluster:
    """Join (or start) the Ray cluster, or fail with its one-line reason (exit 1); it is
    left when bntui exits."""
    from bntui.procs.raycluster import ClusterError, connect

    try:
        cluster = connect(address)
    except ClusterError as exc:
        fail(str(exc), code=1)
    atexit.register(cluster.close)
    say(f"bntui: training on the {cluster.describe()}", sys.stderr)
    return cluster


def cell_executor(executor: str, address: str | None) -> RayExecutor | None:
    """The battery's executor: None for the local one (the runner's default), else the
    cluster's."""
    if executor == "local":
        return None
    from bntui.claims.runner import train_cell
    from bntui.procs.ray_executor import RayExecutor

    return RayExecutor(train_cell, join(address))


def sweep_supervisor(executor: str, address: str | None) -> Callable[..., Supervisor]:
    """What runs a sweep's pairs: this machine's `Supervisor`, or the cluster's."""
    if executor == "local":
        from bntui.procs.supervisor import Supervisor

        return Supervisor
    from bntui.procs.ray_sweep import RaySupervisor

    return partial(RaySupervisor, cluster=join(address))
