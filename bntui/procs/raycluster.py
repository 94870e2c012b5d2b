"""Join a Ray cluster for bntui's executors, or start a private one, or say in one line why
not. Ray is an extra: it is imported here and in the Ray executors only, inside functions, so
that a bntui without it loads and says how to install it.

Which cluster: the address given (`--ray-address`); else Ray's own lookup (`RAY_ADDRESS`, else
the cluster a `ray start` left running on this machine, if its GCS still answers); else a
private cluster of this machine's cores and GPUs that bntui starts, and stops when done. The
private cluster listens on 127.0.0.1 only, with usage statistics off and a small object store.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# The README's set-up line for the extra.
RAY_SETUP = "pip install -e '.[ray]'"
# The private cluster's shared-memory object store: results are small JSON-like lists.
OBJECT_STORE_BYTES = 128 * 2**20
CONNECT_TIMEOUT_S = 5.0


class ClusterError(Exception):
    """bntui cannot use Ray here; the message says why, in one line."""


class Cluster:
    """The Ray cluster this process is connected to, and whether bntui started it."""

    def __init__(self, address: str, private: bool, owned: bool) -> None:
        self.address, self.private, self.owned = address, private, owned
        self._read_at = 0.0
        self._resources: dict[str, float] = {}
        self._lock = threading.Lock()

    def resources(self, max_age: float = 1.0) -> dict[str, float]:
        """The cluster's total resources, read again when older than `max_age` s (nodes
        come and go)."""
        import ray

        with self._lock:
            if time.monotonic() - self._read_at > max_age:
                self._resources = dict(ray.cluster_resources())
                self._read_at = time.monotonic()
            return self._resources

    def alive_nodes(self) -> list[dict[str, Any]]:
        """The nodes that are up, by node id."""
        import ray

        return sorted((n for n in ray.nodes() if n.get("Alive")), key=lambda n: n["NodeID"])

    def describe(self) -> str:
        """`Ray cluster at ADDR: 2 nodes, 16 CPUs, 2 GPUs` (private: this machine's)."""
        found = self.resources(max_age=0)
        where = (
            "private Ray cluster on this machine"
            if self.private
            else (f"Ray cluster at {self.address}")
        )
        nodes = len(self.alive_nodes())
        cpus, gpus = int(found.get("CPU", 0)), found.get("GPU", 0)
        return f"{where}: {nodes} node{'s' * (nodes != 1)}, {cpus} CPUs" + (
            f", {gpus:g} GPUs" if gpus else ""
        )

    def close(self) -> None:
        """Leave the cluster; a private one stops (no Ray process of bntui's outlives it)."""
        import ray

        if self.owned and ray.is_initialized():
            ray.shutdown()
        self.owned = False


def connect(address: str | None = None) -> Cluster:
    """Join the cluster at `address` (None: Ray's lookup, else a private one); raise
    ClusterError with one line when Ray is missing, the address does not answer, its Ray or
    Python differ from this process's, or it has no CPU."""
    try:
        import ray
    except ImportError:
        raise ClusterError(
            f"--executor ray needs Ray: install bntui's ray extra ({RAY_SETUP})"
        ) from None
    if ray.is_initialized():  # the caller (a test, a notebook) joined a cluster already
        return Cluster(ray.get_runtime_context().gcs_address, private=False, owned=False)
    target = address or os.environ.get("RAY_ADDRESS") or _running_here()
    if target:
        _check_reachable(target)
    options: dict[str, Any] = dict(
        log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False
    )
    with _keeping_sigterm(), _quiet_stderr():
        try:
            if target:
                # Without --ray-address, Ray looks the cluster up itself (as found above): then
                # it also finds the token of a cluster with token authentication.
                ray.init(address=address, **options)
            else:
                loopback_only()
                ray.init(
                    address="local",
                    num_cpus=_cores(),
                    object_store_memory=OBJECT_STORE_BYTES,
                    **options,
                )
        except Exception as exc:
            raise ClusterError(_why(exc, target)) from None
    cluster = Cluster(target or ray.get_runtime_context().gcs_address, not target, owned=True)
    if not cluster.resources(max_age=0).get("CPU"):
        where = cluster.describe()
        cluster.close()
        raise ClusterError(
            f"the {where.split(':')[0]} has no CPU; bntui's cells need one each "
            "(start its nodes with ray start --num-cpus N)"
        )
    return cluster


def _running_here() -> str | None:
    """The cluster `ray start` left on this machine, if its GCS still answers (a stale
    address file, left by a cluster that is gone, must not be joined)."""
    try:
        from ray._private.services import find_bootstrap_address

        found = find_bootstrap_address(None)
    except (ImportError, AttributeError, OSError):
        return None
    if not found:
        return None
    try:
        _check_reachable(found)
    except ClusterError:
        return None
    return str(found)


def _check_reachable(address: str) -> None:
    """Fail fast, in one line, when nothing answers at `address` (Ray itself would retry
    for a minute)."""
    if address.startswith("ray://"):
        raise ClusterError(
            f"--ray-address {address}: bntui joins a cluster by its GCS address "
            "(HOST:6379, as ray start prints), not through Ray Client"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray-address {address} is not HOST:PORT (as ray start prints)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(f"no Ray cluster answers at {address} ({reason.lower()})") from None


def loopback_only() -> None:
    """Loopback only and no usage statistics, set before a cluster's processes start, which
    inherit them (bntui's private cluster, and the tests' own). (Ray 2.5x also asks for its
    token, ~/.ray/auth_token, by default.)"""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Ray binds every server to 127.0.0.1 only when this is off (and otherwise resolves
    # 127.0.0.1 to the machine's routable address).
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextmanager
def _keeping_sigterm() -> Iterator[None]:
    """`ray.init` replaces the process's SIGTERM handler with one that exits at once:
    bntui's own (stop, save what finished) must stay."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Ray's C++ side writes its retries and warnings straight to file descriptor 2 while it
    connects, which would bury bntui's one line (and a private cluster's servers, started
    now, inherit it: their noise must not reach the dashboard either)."""
    saved = os.dup(2)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(quiet)


def _why(exc: Exception, target: str | None) -> str:
    """Ray's error as one line."""
    text = str(exc)
    where = f"the Ray cluster at {target}" if target else "a private Ray cluster"
    if "Version mismatch" in text:
        seen = [
            line.split(":", 1)[1].strip()
            for line in text.splitlines()
            if line.strip().startswith(("Ray:", "Python:"))
        ]
        cluster = f"Ray {seen[0]}, Python {seen[1]}" if len(seen) >= 2 else "another version"
        return (
            f"{where} runs {cluster}; this bntui runs Ray {_ray_version()}, Python "
            f"{platform.python_version()}: use the same on every node"
        )
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    hint = ""
    if target and os.environ.get("RAY_AUTH_MODE") != "token":
        hint = (
            " (a cluster with token authentication, as ray start makes, needs RAY_AUTH_MODE"
            "=token and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN)"
        )
    return f"could not join {where}: {first[:300]}{hint}"


def _ray_version() -> str:
    import ray

    return str(ray.__version__)
