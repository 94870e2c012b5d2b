"""Files and options from anyone: what is not a regular file, what passes a shallow schema
but breaks a viewer, numbers that would make the work endless, exports that must be safe to
open and written all or none, and options that would only fail once training started."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL_RUN, bntui_command
from typer.testing import CliRunner

from bntui.cli.main import app as cli
from bntui.outputs.export import curves_svg, export_files, write_all
from bntui.record.files import RunFileError, read_bytes
from bntui.record.runfile import parse_run

runner = CliRunner()


def raw() -> dict[str, Any]:
    return json.loads(SMALL_RUN.read_text())


def refuse_in_time(path: Path) -> str:
    """`read_bytes(path)` in a thread: it must refuse within 10 s, never hang."""
    outcome: list[str] = []

    def read() -> None:
        try:
            read_bytes(path)
            outcome.append("read")
        except RunFileError as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    assert outcome, f"reading {path} hung"
    return outcome[0]


def test_what_is_not_a_regular_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # no writer: a blocking open would wait forever
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")  # endless: a read would exhaust memory
    sock = tmp_path / "sock.json"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    assert "FIFO" in refuse_in_time(fifo)
    assert "is a device" in refuse_in_time(zero)
    assert "cannot read it" in refuse_in_time(sock)
    assert "is a folder" in refuse_in_time(tmp_path)
    server.close()


def test_commands_refuse_a_fifo_and_dev_zero(tmp_path: Path) -> None:
    """The real command, in a process of its own: one line and exit 2, not a hang."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    for args in (["replay", str(fifo)], ["export", str(zero)], ["compare", str(zero), str(fifo)]):
        result = subprocess.run(
            [*bntui_command(), *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "bntui reads only regular files" in result.stderr


def test_reading_stops_at_the_limit_whatever_the_size_says(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 5000)
    with pytest.raises(RunFileError, match="refused"):
        read_bytes(path, limit=1000)
    assert read_bytes(path, limit=5000) == b" " * 5000


def broken(change: str) -> bytes:
    """The recorded run with one change a shallow schema let through (from the issue)."""
    data = raw()
    models, dataset = data["seeds"][0]["models"], data["dataset"]
    if change == "epochs 0":
        data["spec"]["epochs"] = 0
    elif change == "epochs 1e12":
        data["spec"]["epochs"] = 10**12
    elif change == "devices without a comma":
        data["spec"]["devices"] = "01"
    elif change == "curve time 1e300":
        models["bn"]["curve"]["t"][3] = 1e300
    elif change == "ready_t -1e300":
        models["plain"]["ready_t"] = -1e300
    elif change == "memory_bytes lots":
        data["devices"][0]["memory_bytes"] = "lots"
    elif change == "memory_bytes [1]":
        data["devices"][0]["memory_bytes"] = [1]
    elif change == "gpu key not gpuN":
        data["system"]["gpu_names"] = {"card": "H100"}
    elif change == "fewer labels than images":
        dataset["sample_labels"].pop()
    elif change == "device name nested 900 deep":
        data["devices"][0]["name"] = json.loads("[" * 900 + "]" * 900)
    elif change == "confusion matrix 1000x3000":
        models["bn"]["test"]["confusion_matrix"] = [[1] * 3000 for _ in range(1000)]
    elif change == "curve beyond spec.epochs":
        models["bn"]["curve"]["epoch"][-1] = 7
    text = json.dumps(data)
    if change == "duration 1e400":
        text = re.sub(r'"duration_s": [0-9.]+', '"duration_s": 1e400', text, count=1)
    return text.encode()


SHALLOW = [
    "epochs 0", "epochs 1e12", "devices without a comma", "curve time 1e300",
    "ready_t -1e300", "memory_bytes lots", "memory_bytes [1]", "gpu key not gpuN",
    "fewer labels than images", "device name nested 900 deep", "confusion matrix 1000x3000",
    "curve beyond spec.epochs", "duration 1e400",
]  # fmt: skip


@pytest.mark.parametrize("change", SHALLOW)
def test_what_a_viewer_cannot_show_is_refused(change: str, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(broken(change))
    with pytest.raises(RunFileError) as refused:
        parse_run(broken(change))
    assert "\n" not in str(refused.value)
    result = runner.invoke(cli, ["replay", str(path), "--headless"])
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1, result.output


def test_export_work_follows_the_data_not_the_spec() -> None:
    """A spec of 100,000 epochs (the bound) with three recorded: about ten epoch ticks."""
    data = raw()
    data["spec"]["epochs"] = 100_000
    svg = curves_svg(parse_run(json.dumps(data).encode()))
    assert svg.count('font-size="10">') < 40


def test_csv_cells_that_spreadsheets_would_run_are_quoted() -> None:
    data = raw()
    names = ["=1+1", "+1", "-cmd", "@SUM(A1)", "\tx", "plain"]
    for layer, name in zip(data["seeds"][0]["models"]["bn"]["inside"]["layers"], names):
        layer["name"] = name
    files = export_files(parse_run(json.dumps(data).encode()), Path("/x/run"))
    rows = list(csv.DictReader(io.StringIO(files[Path("/x/run-inside.csv")])))
    layers = {row["layer"] for row in rows if row["model"] == "bn"}
    assert layers == {"'=1+1", "'+1", "'-cmd", "'@SUM(A1)", "^Ix", "plain"}
    values = [row["value"] for row in rows if row["value"].startswith("-")]
    assert values and all(float(v) < 0 for v in values)  # negative numbers stay numbers


def test_export_writes_all_or_none(tmp_path: Path) -> None:
    files = {tmp_path / "a.csv": "a\n", tmp_path / "b.csv": "b\n", tmp_path / "no" / "c": "c"}
    with pytest.raises(OSError, match="nothing was exported"):
        write_all(files)
    assert list(tmp_path.iterdir()) == []


def test_export_command_leaves_nothing_when_a_write_fails(tmp_path: Path) -> None:
    """A real export whose third file cannot be written (a file size limit): exit 1, one
    line, and the two files already written are removed."""
    script = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000)); "
        "from bntui.cli.main import main; sys.argv = ['bntui'] + sys.argv[1:]; main()"
    )
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", script, "export", str(SMALL_RUN), "--out-dir", str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "nothing was exported" in result.stderr and result.stderr.count("\n") == 1
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--epochs", "abc"], "Invalid value for '--epochs': not a whole number"),
        (["run", "--lr", "x"], "Invalid value for '--lr': not a number"),
        (["run", "--nope"], "No such option: --nope"),
        (["replay"], "Missing argument"),
        (["bogus"], "No such command"),
        (["run", "--seed", "-1"], "--seed must be a whole number from 0"),
        (["run", "--seed", "4294967296"], "--seed must be a whole number from 0"),
        (["run", "--steps-per-execution", "99999999999999999999"], "steps of an epoch"),
        (["run", "--threads", "100000", "--backend", "tensorflow"], "--threads must be 1 to"),
        (["run", "--threads", "0"], "--threads must be 1 to"),
        (["run", "--out", "x" * 300 + ".json"], "at most 200"),
        (["run", "--epochs", "99999999999999999999"], "at most 100,000"),
        (["run", "--batch-size", "60000", "--limit", "100"], "more than the 100 training"),
        (["run", "--lr", "1000"], "--lr must be at most 100"),
        (["run", "--early-stopping", "100001"], "--early-stopping must be"),
        (["run", "--devices", "²,1"], "--devices takes two GPU numbers"),
        (["sweep", "--batch-sizes", "32,99999999"], "more than the"),
        (["sweep", "--threads", "100000"], "--threads must be 1 to"),
        (["replay", str(SMALL_RUN), "--speed", "1e-300"], "--speed must be"),
        (["replay", str(SMALL_RUN), "--speed", "1e9"], "--speed must be"),
        (["replay", str(SMALL_RUN), "--speed", "nan"], "--speed must be"),
    ],
)
def test_options_that_cannot_run_are_one_line_before_anything_starts(
    args: list[str], message: str
) -> None:
    result = runner.invoke(cli, [*args, "--headless"] if args[0] == "run" else args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("bntui: error: ") and message in result.output
    assert len(result.output.splitlines()) == 1, result.output


@pytest.mark.parametrize("seed", ["0", "4294967295"])
def test_seed_bounds_are_inclusive(
    seed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("bntui.cli.main.train", lambda session, headless: started.append(session))
    result = runner.invoke(cli, ["run", "--seed", seed, "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0 and started, result.output


def test_the_console_script_turns_usage_errors_into_one_line() -> None:
    result = subprocess.run(
        [*bntui_command(), "run", "--epochs", "abc"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bntui: error: Invalid value for '--epochs': not a whole number"
    ]
