"""`--executor ray` from the command line: one line and an exit code for what cannot work
(no Ray, nothing at the address, options that do not go together), and the private cluster
bntui starts when there is none to join: on 127.0.0.1 only, never joined through a stale
address file, and gone when bntui ends, even killed."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from ray_helpers import descendants, no_ray_left, wait_gone

from bntui.claims.claimfile import load_claims

pytest.importorskip("ray")
LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1")


def bntui_in_python(args: list[str], prelude: str = "") -> list[str]:
    """`bntui ARGS` in a fresh interpreter that first runs `prelude`."""
    code = f"{prelude}\nimport sys\nsys.argv = ['bntui', *{args!r}]\n"
    return [sys.executable, "-c", code + "from bntui.cli.main import main\nmain()"]


@pytest.mark.parametrize(
    ("args", "prelude", "code", "message"),
    [
        (["claims", "--headless", "--executor", "ray", "--ray-address", "127.0.0.1:1"], "", 1,
         "no Ray cluster answers at 127.0.0.1:1 (connection refused)"),
        (["sweep", "--headless", "--executor", "ray", "--ray-address", "127.0.0.1:1"], "", 1,
         "no Ray cluster answers at 127.0.0.1:1"),
        (["claims", "--executor", "ray", "--ray-address", "ray://head:10001"], "", 1,
         "not through Ray Client"),
        (["claims", "--headless", "--executor", "ray"], "import sys; sys.modules['ray'] = None",
         1, "--executor ray needs Ray: install bntui's ray extra (pip install -e '.[ray]')"),
        (["claims", "--ray-address", "127.0.0.1:1"], "", 2,
         "--ray-address goes with --executor ray"),
        (["sweep", "--executor", "dask"], "", 2, "--executor must be one of local, ray"),
    ],
)  # fmt: skip
def test_what_cannot_work_gets_one_line(
    args: list[str], prelude: str, code: int, message: str, tmp_path: Path,
    clean_env: dict[str, str],
) -> None:  # fmt: skip
    clean_env.pop("RAY_ADDRESS", None)
    with no_ray_left():
        result = subprocess.run(bntui_in_python(args, prelude), cwd=tmp_path, env=clean_env,
                                capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == code, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def private_env(clean_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """No cluster to join but a stale address file, left by a cluster that is gone (Ray's
    temporary folder of the test's own, short enough for its socket paths)."""
    folder = Path(tempfile.mkdtemp(prefix="bntui-ray-", dir="/tmp"))
    (folder / "ray").mkdir()
    (folder / "ray" / "ray_current_cluster").write_text("127.0.0.1:1")
    clean_env.pop("RAY_ADDRESS", None)
    clean_env["RAY_TMPDIR"] = str(folder)
    yield clean_env
    shutil.rmtree(folder, ignore_errors=True)


def start_battery(out: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], set[int]]:
    """`bntui claims --executor ray` with no address, once its cluster is up; and the
    cluster's processes (its Ray servers, agents and workers)."""
    command = bntui_in_python(["claims", "gradients", "--scale", "tiny", "--headless",
                               "--executor", "ray", "--out", str(out)])  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    said = process.stderr.readline()
    assert said.startswith("bntui: training on the private Ray cluster on this machine"), said
    assert process.stdout.readline().startswith("bntui claims:")  # the battery has begun
    return process, descendants(process.pid)


@pytest.mark.slow
def test_a_private_cluster_listens_on_loopback_only_and_stops_with_bntui(
    tmp_path: Path, private_env: dict[str, str]
) -> None:
    with no_ray_left():
        process, cluster = start_battery(tmp_path / "claims.json", private_env)
        servers = [p for p in map(psutil.Process, cluster) if p.name() in ("raylet", "gcs_server")]
        assert len(servers) == 2
        listening = [c.laddr.ip for server in servers for c in server.net_connections("inet")
                     if c.status == psutil.CONN_LISTEN]  # fmt: skip
        assert listening and set(listening) <= set(LOOPBACK), listening
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        assert wait_gone(cluster) == set()
    assert "claims file saved to" in out and "Traceback" not in err
    claims = load_claims(tmp_path / "claims.json")
    assert claims.status == "completed"
    assert claims.device.startswith("private Ray cluster on this machine: 1 node")
    assert all(cell.where is not None for cell in claims.cells)
    stale = Path(private_env["RAY_TMPDIR"]) / "ray" / "ray_current_cluster"
    assert stale.read_text() == "127.0.0.1:1"


@pytest.mark.slow
def test_a_killed_bntui_leaves_no_private_cluster_behind(
    tmp_path: Path, private_env: dict[str, str]
) -> None:
    with no_ray_left():
        process, cluster = start_battery(tmp_path / "claims.json", private_env)
        assert cluster
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        # Ray's fate-sharing: the servers go at once, its agents once they have tried to
        # report to the gone servers (up to a minute on a busy machine).
        assert wait_gone(cluster, limit=120) == set()
