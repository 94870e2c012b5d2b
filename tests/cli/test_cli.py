"""The command line: help, bad input (one line, exit 2, nothing trains), replay summaries."""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bntui.cli.main import app

runner = CliRunner()


def test_help_lists_commands_and_options() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "run" in result.output and "replay" in result.output
    # Each command's line is a whole sentence, never cut mid-way ("(e." or "...").
    commands = result.output.split("Commands:")[1].strip().splitlines()
    assert len(commands) == 6 and not any(line.endswith("...") for line in commands)
    assert "claims" in result.output
    assert "aligned by epoch, with what differs." in result.output
    result = runner.invoke(app, ["run", "--help"])
    for option in ("--preset", "--dataset", "--epochs", "--batch-size", "--optimizer", "--lr",
                   "--seed", "--limit", "--out", "--headless", "--faithful"):  # fmt: skip
        assert option in result.output
    assert "mnist-adam" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs must be a positive"),
        (["--epochs", "-1"], "--epochs must be a positive"),
        (["--batch-size", "0"], "--batch-size must be a positive"),
        (["--limit", "-5"], "--limit must be a positive"),
        (["--limit", "60000"], "beyond the data"),
        (["--lr", "0"], "--lr must be a positive"),
        (["--lr", "-0.1"], "--lr must be a positive"),
        (["--preset", "imagenet"], "unknown preset 'imagenet'"),
        (["--dataset", "cifar10"], "unknown dataset 'cifar10'"),
        (["--optimizer", "lion"], "unknown optimizer 'lion'"),
        (["--out", "/no/such/folder/run.json"], "does not exist"),
        (["--inside", "-1"], "--inside must be between 0"),
        (["--early-stopping", "0"], "--early-stopping must be a positive"),
        (["--devices", "0"], "--devices takes two GPU numbers"),
    ],
)
def test_bad_run_options(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--headless", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_command_ends_with_its_objects_frozen(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The entry point's last step: Python's final collection would walk every object bntui
    # made, 50-95 ms at the end of every run. Its output and exit code are untouched.
    from bntui.cli import launch

    monkeypatch.setattr(sys, "argv", ["bntui", "--version"])
    before = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as ended:
            launch.main()
        assert ended.value.code == 0
        assert capsys.readouterr().out.startswith("bntui ")
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_run_options_alone_are_a_run() -> None:
    # `bntui` alone is `bntui run`, so its options alone are too: `run` checks them.
    for args in (["--epochs", "0"], ["--headless", "--epochs=0"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.output.strip() == "bntui: error: --epochs must be a positive whole number"
    result = runner.invoke(app, ["--bogus"])
    assert result.exit_code == 2 and "No such option: --bogus" in result.output
    assert "Commands:" in runner.invoke(app, ["--help"]).output


def test_out_never_overwrites(tmp_path: Path) -> None:
    existing = tmp_path / "run.json"
    existing.write_text("keep me")
    result = runner.invoke(app, ["run", "--headless", "--out", str(existing)])
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert existing.read_text() == "keep me"


def test_out_in_missing_or_read_only_folder(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = runner.invoke(app, ["run", "--headless", "--out", str(blocked / "r.json")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    if os.geteuid() == 0:
        return  # root may write into any folder: nothing to refuse
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    result = runner.invoke(app, ["run", "--headless", "--out", str(folder / "r.json")])
    folder.chmod(0o700)
    assert result.exit_code == 2
    assert "not writable" in result.output


def test_replay_headless_prints_the_summary(small_run_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(small_run_path), "--headless"])
    assert result.exit_code == 0, result.output
    assert "Plain MLP" in result.output and "MLP + BatchNorm" in result.output
    assert "completed" in result.output
    data = json.loads(small_run_path.read_text())
    assert f"{data['seeds'][0]['models']['bn']['test']['accuracy']:.4f}" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"", "is empty"), (b"{", "not valid JSON")],
)
def test_replay_bad_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "x.json"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(app, ["replay", str(path)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_replay_bad_speed(small_run_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(small_run_path), "--speed", "0"])
    assert result.exit_code == 2
    assert "--speed must be a positive" in result.output


def test_hostile_strings_are_shown_literally(small_run_path: Path) -> None:
    data = json.loads(small_run_path.read_text())
    data["error"] = "[bold red]boom[/] \x1b]0;pwned\x07 \x1b[2J"
    data["seeds"][0]["models"]["bn"]["error"] = "\x1b[31mred\x1b[0m"
    small_run_path.write_text(json.dumps(data))
    result = runner.invoke(app, ["replay", str(small_run_path), "--headless"])
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "[bold red]boom[/]" in result.output
    assert "^[]0;pwned^G" in result.output


@pytest.mark.parametrize(("flag", "fused"), [([], True), (["--no-fuse"], False)])
def test_fuse_flag_reaches_the_spec(
    flag: list[str], fused: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("bntui.cli.main.train", lambda session, headless: started.append(session))
    # No workers: the early spawn would start a real pair that nothing here reads or stops.
    monkeypatch.setattr("bntui.cli.main.start_first_pair", lambda spec, threads: None)
    out = tmp_path / "run.json"
    result = runner.invoke(app, ["run", "--headless", "--out", str(out), *flag])
    assert result.exit_code == 0, result.output
    (session,) = started
    assert session.specs[0].fuse_steps is fused  # type: ignore[attr-defined]


def test_resuming_a_complete_claims_file_changes_nothing(tmp_path: Path) -> None:
    """`claims --resume` on a finished battery says so and leaves the file as it was (its
    `finished` is not re-stamped), whichever design it was recorded under."""
    path = tmp_path / "claims.json"
    path.write_bytes((Path(__file__).parent.parent / "data" / "claims_tiny.json").read_bytes())
    before = path.read_bytes()
    result = runner.invoke(app, ["claims", "--resume", str(path), "--headless"])
    assert result.exit_code == 0, result.output
    assert "is complete (every cell finished): nothing to resume" in result.output
    assert path.read_bytes() == before
