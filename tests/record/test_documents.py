"""One file base for run, sweep and claims documents: each new file names its `kind`, the
shapes written before `kind` (claims files with `format`, run files with nothing) still load,
one reader tells the three apart, and a save syncs the folder that holds the new name."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
from conftest import DATA, SMALL_RUN, SMALL_SWEEP
from typer.testing import CliRunner

from bntui.claims.claimfile import ClaimsFile, load_any, load_claims, parse_claims
from bntui.cli.main import app as cli
from bntui.record.files import Document, RunFileError, save_run, write_atomic
from bntui.record.runfile import RunFile, load_run, parse_run
from bntui.record.sweep import SweepFile, load_document, parse_document

runner = CliRunner()
ROOT = Path(__file__).parents[2]
RECORDED = sorted([*ROOT.glob("sample_runs/*.json"), *DATA.glob("*.json")])
CLAIMS_TINY = DATA / "claims_tiny.json"


def expected_kind(path: Path) -> type[Document]:
    """What each recorded file is, by its name (not by the code under test)."""
    if "claims" in path.name:
        return ClaimsFile
    return SweepFile if "sweep" in path.name else RunFile


def test_the_recorded_files_all_still_load_in_the_shape_they_were_written() -> None:
    """Deeper validation refuses none of the real recordings (schema 1 to 4 runs, sweeps,
    claims files), and the one reader tells each kind apart though the older run and claims
    files name no `kind`: claims files say `"format": "bntui-claims"`, run files nothing."""
    kinds = [expected_kind(path) for path in RECORDED]
    assert kinds.count(RunFile) == 9 and kinds.count(SweepFile) == 2
    assert kinds.count(ClaimsFile) >= 2
    for path, kind in zip(RECORDED, kinds, strict=True):
        before = path.read_bytes()
        data = json.loads(before)
        if kind is ClaimsFile:
            old = data.get("format") == "bntui-claims" and "kind" not in data
            assert old or data["kind"] == "claims", path
        elif kind is RunFile:  # before `kind`, a run file named none; since, "run"
            assert data.get("kind", "run") == "run" and "format" not in data, path
        else:
            assert data["kind"] == "sweep", path
        document = load_any(path)
        assert type(document) is kind, path
        assert path.read_bytes() == before  # read, never rewritten


def test_new_files_name_their_kind_first(small_run: RunFile, tmp_path: Path) -> None:
    """Each kind writes `kind` as its first key; a claims file no longer writes `format`,
    and an old-shape file written again reads back the same."""
    claims = load_claims(CLAIMS_TINY)
    for document, kind in (
        (small_run, "run"),
        (load_document(str(SMALL_SWEEP)), "sweep"),
        (claims, "claims"),
    ):
        path, _ = save_run(document, tmp_path / f"{kind}.json")
        data = json.loads(path.read_text())
        assert next(iter(data)) == "kind" and data["kind"] == kind
        assert "format" not in data
        assert load_any(path) == document
    # A sweep's runs are whole run files: each names its kind too.
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert {run["kind"] for run in sweep["runs"]} == {"run"}
    # The claims file in its new shape validates to the same battery as in its old one.
    assert parse_claims((tmp_path / "claims.json").read_bytes()) == claims


def test_both_claims_shapes_replay_alike(tmp_path: Path) -> None:
    new = tmp_path / "claims_tiny.json"
    save_run(load_claims(CLAIMS_TINY), new)
    outputs = []
    for path in (CLAIMS_TINY, new):
        result = runner.invoke(cli, ["replay", str(path), "--headless"])
        assert result.exit_code == 0, result.output
        outputs.append(result.output.replace(str(path), "FILE"))
    assert outputs[0] == outputs[1] and "FILE" in outputs[0]


@pytest.mark.parametrize(
    ("read", "path", "message"),
    [
        (load_run, CLAIMS_TINY, "is a claims file, not a run file"),
        (load_run, SMALL_SWEEP, "is a sweep file, not a run file"),
        (load_document, CLAIMS_TINY, "is a claims file, not a run or sweep file"),
        (load_claims, SMALL_RUN, "is a run file, not a claims file"),
        (load_claims, SMALL_SWEEP, "is a sweep file, not a claims file"),
    ],
)
def test_each_reader_names_a_file_of_another_kind(read: object, path: Path, message: str) -> None:
    with pytest.raises(RunFileError, match=message):
        read(str(path))  # type: ignore[operator]


def test_export_of_a_claims_file_says_what_it_is() -> None:
    result = runner.invoke(cli, ["export", str(CLAIMS_TINY)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"bntui: error: {CLAIMS_TINY} is a claims file, not a run or sweep file"
    ]


@pytest.mark.parametrize("kind", ["poem", "\x1b]0;pwned\x07poem\n", 5, None, ["run"], {"a": 1}])
def test_an_unknown_kind_is_refused_in_one_clean_line(kind: object) -> None:
    data = json.loads(SMALL_RUN.read_text()) | {"kind": kind}
    for parse in (parse_run, parse_document, parse_claims):
        with pytest.raises(RunFileError, match="is not a bntui file \\(kind ") as caught:
            parse(json.dumps(data).encode(), "x.json")  # type: ignore[operator]
        message = str(caught.value)
        assert "\x1b" not in message and "\n" not in message and "\x07" not in message


def test_kind_outranks_the_old_format() -> None:
    """`format` is read only from files without `kind`."""
    data = json.loads(SMALL_RUN.read_text()) | {"kind": "run", "format": "bntui-claims"}
    assert isinstance(parse_document(json.dumps(data).encode(), "x.json"), RunFile)


def synced_during(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, int]]:
    """(a folder?, inode) of every fd passed to os.fsync from now on (each is really synced)."""
    calls: list[tuple[bool, int]] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        calls.append((stat.S_ISDIR(info.st_mode), info.st_ino))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_write_syncs_the_file_then_its_folder(
    overwrite: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new name lives in the folder: without syncing it, a power cut after the rename
    can leave the folder without the file."""
    target = tmp_path / "doc.json"
    if overwrite:
        target.write_text("old")
    calls = synced_during(monkeypatch)
    write_atomic("new", target, overwrite=overwrite)
    assert target.read_text() == "new"
    file, folder = target.stat().st_ino, tmp_path.stat().st_ino
    assert calls == [(False, file), (True, folder)]
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]  # no temp file left


def test_a_refused_write_syncs_nothing_and_overwrites_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "doc.json"
    target.write_text("precious")
    calls = synced_during(monkeypatch)
    with pytest.raises(FileExistsError):
        write_atomic("new", target, overwrite=False)
    assert target.read_text() == "precious"
    assert not any(is_folder for is_folder, _ in calls)


def test_a_folder_that_cannot_be_synced_still_gets_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some filesystems refuse to sync a folder (EINVAL): the name is in place all the same,
    so the save succeeds rather than falling back to another folder."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path, warning = save_run(load_run(SMALL_RUN), tmp_path / "run.json")
    assert path == tmp_path / "run.json" and warning is None
    assert load_run(path) == load_run(SMALL_RUN)
