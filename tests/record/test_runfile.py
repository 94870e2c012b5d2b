"""The run file: round trip, strict JSON, validation with clear messages, atomic saving."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import SMALL_RUN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bntui.core.events import SystemSample
from bntui.record.files import RunFileError, save_run, write_atomic
from bntui.record.recorder import RunRecorder, empty_like
from bntui.record.replay import events_from_run
from bntui.record.runfile import SCHEMA_VERSION, RunFile, load_run, parse_run


def raw() -> dict:
    return json.loads(SMALL_RUN.read_text())


def test_recorded_run_has_keras_shaped_history(small_run: RunFile) -> None:
    pandas = pytest.importorskip("pandas")
    data = raw()
    frame = pandas.DataFrame(data["seeds"][0]["models"]["bn"]["history"])
    assert list(frame.columns) == ["loss", "accuracy", "val_loss", "val_accuracy", "epoch_time_s"]
    assert len(frame) == small_run.spec.epochs == 3
    curve = pandas.DataFrame(data["seeds"][0]["models"]["plain"]["curve"])
    assert len(curve) >= 20 * 3  # at least 20 curve points per epoch
    # Recorded at schema 3; schema 4 added only the test fields (tests/tui/test_predictions).
    assert data["schema_version"] == SCHEMA_VERSION - 1


def test_save_and_load_round_trip(small_run: RunFile, tmp_path: Path) -> None:
    path, warning = save_run(small_run, tmp_path / "again.json")
    assert warning is None
    assert load_run(path) == small_run


def test_events_rebuild_the_same_run(small_run: RunFile) -> None:
    """Replay's event stream, recorded again, gives back the run it came from."""
    recorder = RunRecorder(small_run.spec, empty_like(small_run))
    for event in events_from_run(small_run):
        recorder.apply(event)
    for key in ("plain", "bn"):
        assert recorder.run.models[key] == small_run.models[key]
    # The load sampled while it trained, once (not the file's, then the replayed samples).
    assert small_run.system.t
    assert recorder.run.system == small_run.system


def test_non_finite_numbers_are_written_as_null(small_run: RunFile, tmp_path: Path) -> None:
    small_run.models["plain"].history.loss[0] = float("nan")
    small_run.models["plain"].history.val_loss[0] = float("inf")
    path, _ = save_run(small_run, tmp_path / "nan.json")
    text = path.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in run file"))
    loaded = load_run(path)
    assert loaded.models["plain"].history.loss[0] is None
    assert loaded.models["plain"].history.val_loss[0] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"   \n", "is empty"),
        (b"not json", "not valid JSON"),
        (b'{"schema_version": 1, "status": "compl', "not valid JSON"),
        (b"[1, 2]", "not a bntui run file"),
        (b'{"hello": 1}', "not a bntui run file"),
        (b'{"schema_version": "one"}', "schema_version must be a whole number"),
        (b'{"schema_version": 1, "duration_s": NaN}', "not valid JSON"),
        (b'{"schema_version": 1, "duration_s": Infinity}', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not text"),
        (b"[" * 100_000, "nested too deeply|not valid JSON"),
    ],
)
def test_bad_files_get_one_clear_message(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(RunFileError, match=message):
        load_run(path)


def test_missing_field_and_wrong_type_name_the_place() -> None:
    data = raw()
    del data["seeds"][0]["models"]["bn"]["summary"]["total_params"]
    with pytest.raises(RunFileError, match=r"models\.bn\.summary\.total_params"):
        parse_run(json.dumps(data).encode())
    data = raw()
    data["seeds"][0]["models"]["plain"]["history"]["loss"] = "lots"
    with pytest.raises(RunFileError, match=r"models\.plain\.history\.loss"):
        parse_run(json.dumps(data).encode())


def test_unequal_history_lengths_are_refused() -> None:
    data = raw()
    data["seeds"][0]["models"]["plain"]["history"]["loss"].append(0.1)
    with pytest.raises(RunFileError, match="equal lengths"):
        parse_run(json.dumps(data).encode())


def test_layer_statistics_are_recorded_per_measurement(small_run: RunFile) -> None:
    spec = small_run.spec
    for key, denses, bns in (("plain", 3, 0), ("bn", 3, 3)):
        inside = small_run.models[key].inside
        assert len(inside.position) == spec.epochs * spec.inside_per_epoch + 1
        assert inside.position[0] == 0.0 and inside.position[-1] == spec.epochs
        kinds = [layer.kind for layer in inside.layers]
        assert kinds.count("dense") == denses and kinds.count("bn") == bns
        assert [layer.units for layer in inside.layers if layer.kind == "dense"] == [300, 100, 10]


def test_misaligned_layer_statistics_are_refused() -> None:
    data = raw()
    data["seeds"][0]["models"]["bn"]["inside"]["layers"][0]["stats"]["gamma_mean"].pop()
    with pytest.raises(RunFileError, match="gamma_mean has"):
        parse_run(json.dumps(data).encode())


def test_version_1_files_load_without_layer_statistics() -> None:
    data = raw() | {"schema_version": 1}
    for model in data["seeds"][0]["models"].values():
        del model["inside"]
    run = parse_run(json.dumps(data).encode())
    assert run.models["bn"].inside.layers == []
    assert run.models["bn"].history.loss


def test_newer_schema_says_who_wrote_it() -> None:
    data = raw() | {"schema_version": SCHEMA_VERSION + 1, "bntui_version": "9.0.0"}
    with pytest.raises(RunFileError, match=r"written by bntui '9\.0\.0'.*Upgrade bntui"):
        parse_run(json.dumps(data).encode())


def test_unknown_extra_fields_are_tolerated(small_run: RunFile) -> None:
    data = raw()
    data["added_later"] = {"x": 1}
    data["seeds"][0]["models"]["bn"]["history"]["lr"] = [0.1, 0.1, 0.1]
    assert (
        parse_run(json.dumps(data).encode()).models["bn"].history == small_run.models["bn"].history
    )


def test_absurd_sizes_are_refused(tmp_path: Path) -> None:
    data = raw()
    data["seeds"][0]["models"]["plain"]["history"] = {
        k: [0.5] * 1_000_001 for k in data["seeds"][0]["models"]["plain"]["history"]
    }
    with pytest.raises(RunFileError, match=r"history\.loss"):
        parse_run(json.dumps(data).encode())
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:  # sparse: a 1 GB file that takes no disk
        handle.truncate(1 << 30)
    with pytest.raises(RunFileError, match="MiB; run files over"):
        load_run(big)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(RunFileError, match="no such file"):
        load_run(tmp_path / "absent.json")
    with pytest.raises(RunFileError, match="is a folder"):
        load_run(tmp_path)


def test_save_never_overwrites(small_run: RunFile, tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.write_text("precious")
    with pytest.raises(FileExistsError):
        write_atomic("new", target, overwrite=False)
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_target_falls_back(
    small_run: RunFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path, warning = save_run(small_run, locked / "run.json")
    assert path.parent == tmp_path / "data" / "bntui" / "runs"
    assert warning and "could not write" in warning
    assert load_run(path) == small_run


def test_unwritable_target_falls_back_even_as_root(
    small_run: RunFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path under a regular file cannot be created by anyone, root included."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path, warning = save_run(small_run, blocker / "run.json")
    assert path == tmp_path / "data" / "bntui" / "runs" / "run.json"
    assert warning and "saved to" in warning
    assert load_run(path) == small_run


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_any_bytes_give_a_run_or_a_clean_error(content: bytes) -> None:
    try:
        run = parse_run(content)
    except RunFileError as exc:
        assert str(exc)
    else:
        assert isinstance(run, RunFile)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["spec", "seeds", "dataset", "devices", "status", "duration_s"]), json_values
)
def test_fuzz_mutated_run_files(field: str, value: object) -> None:
    """Replacing any part of a real run file with arbitrary JSON never crashes the loader."""
    data = raw()
    data[field] = value
    try:
        parse_run(json.dumps(data).encode())
    except RunFileError as exc:
        assert str(exc)


def test_system_samples_are_recorded_and_replayed(small_run: RunFile) -> None:
    recorder = RunRecorder(small_run.spec)
    recorder.apply(SystemSample(model="system", t=1.0, workers={"plain": {"cpu_pct": 99.0}}))
    gpu = {"index": 1, "name": "H100", "util_pct": 40.0, "temperature_c": 51.0}
    recorder.apply(
        SystemSample(model="system", t=2.0, workers={"plain": {"cpu_pct": 98.0}}, gpus=[gpu])
    )
    trace = recorder.run.system
    assert trace.t == [1.0, 2.0]
    assert trace.series["plain.cpu_pct"] == [99.0, 98.0]
    assert trace.series["gpu1.util_pct"] == [None, 40.0]  # found late: padded, still aligned
    assert trace.gpu_names == {"gpu1": "H100"}
    rebuilt = RunRecorder(small_run.spec)
    for event in events_from_run(recorder.run):
        rebuilt.apply(event)
    assert rebuilt.run.system == trace
    assert len(small_run.system.t) > 0  # the recorded run sampled its workers
