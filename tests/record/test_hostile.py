"""Hostile text, everywhere: every text field of a run file (found by walking the models,
not listed by hand) × a set of payloads, through every output: headless summaries, compare,
export files, the dashboard's screens, error messages; and strings from workers."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hostile import (
    ALL,
    PAYLOADS,
    accepting,
    base_data,
    check_export,
    check_lines,
    fill,
    loads,
    raw_characters,
)
from schema_walk import put, slots, text_slots
from screen import replay_to_end
from typer.testing import CliRunner

from bntui.cli.main import app as cli
from bntui.core.events import EVENT_TYPES, parse_event
from bntui.core.spec import ExperimentSpec
from bntui.outputs.export import export_files
from bntui.outputs.headless import compare_lines, event_line
from bntui.outputs.summary import summary_lines
from bntui.record.recorder import RunRecorder, empty_like
from bntui.record.replay import events_from_run
from bntui.record.runfile import RunFile, RunFileError, parse_run
from bntui.record.sweep import SweepFile, parse_document
from bntui.session.sessions import CompareSession, ReplaySession, SweepReplaySession
from bntui.stats.compare import labels_for
from bntui.tui.app import BntuiApp

runner = CliRunner()
TEXT_SLOTS = text_slots(RunFile)
# Literals (statuses, kinds) take no free text, but a hostile one must still be refused
# with a clean message.
LITERAL_SLOTS = [s for s in slots(RunFile) if s.kind == "literal"]
BASE = base_data()
BASE_RUN = parse_run(json.dumps(BASE).encode())


def strings_in(value: Any) -> list[str]:
    """Every string (keys too) in a dumped model or an event's fields."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_in(k), *strings_in(v))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings_in(v)]
    return []


def test_every_text_slot_is_cleaned_as_it_is_validated() -> None:
    """By construction: each string field and dict key of the models runs `clean` in
    pydantic; the spec (a dataclass) is cleaned by the run file's spec validator."""
    assert len(TEXT_SLOTS) >= 25
    for model in (RunFile, SweepFile):
        for slot in text_slots(model):
            if "spec" in slot.path:
                continue
            assert slot.cleaned, f"{'/'.join(slot.path)} is text that is not cleaned"
    spec_text = [s for s in TEXT_SLOTS if s.path[0] == "spec"]
    assert {s.path[1] for s in spec_text} == {
        name for name, kind in ExperimentSpec.__annotations__.items() if "str" in str(kind)
    }
    for slot in TEXT_SLOTS:  # every slot has a place in the base file to test it with
        put(BASE, slot, "x")


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_each_field_alone_through_summaries_compare_and_export(name: str) -> None:
    """One field at a time: loaded clean (or refused with one clean line), and nothing raw
    in the summary, the comparison or the exported files."""
    payload = PAYLOADS[name]
    for slot in TEXT_SLOTS + LITERAL_SLOTS:
        data = put(BASE, slot, payload)
        try:
            run = parse_run(json.dumps(data).encode(), f"x{payload}.json")
        except RunFileError as exc:
            assert not raw_characters(str(exc), lines=False), slot.path
            continue
        assert not [s for s in strings_in(run.model_dump()) if raw_characters(s, lines=False)]
        # Replay re-creates the same record from cleaned text (cleaning twice changes
        # nothing, and no length limit is crossed on the way).
        replayed = RunRecorder(run.spec, empty_like(run))
        for event in events_from_run(run):
            replayed.apply(event)
        assert replayed.run.models == run.models, slot.path
        check_lines("\n".join(summary_lines(run)))
        labels, names = labels_for([Path("base.json"), Path(f"{payload}.json")])
        check_lines("\n".join(compare_lines([BASE_RUN, run], labels, names)))
        check_export(export_files(run, Path("/nonexistent/x")))


def fs_ok(char: str) -> bool:
    try:
        os.fsencode(char)  # \udc9b is the byte 0x9b in a file name; \ud800 is nothing
    except UnicodeEncodeError:
        return False
    return True


def write(tmp_path: Path, data: dict[str, Any], name: str) -> Path:
    # A hostile file name too: it is quoted in messages, labels and "wrote ..." lines.
    safe = "".join(c for c in name if c not in "/\x00" and fs_ok(c))[:60]
    path = tmp_path / f"{safe}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("name", [*PAYLOADS, "all"])
def test_every_field_at_once_through_the_command_line(name: str, tmp_path: Path) -> None:
    payload = ALL if name == "all" else PAYLOADS[name]
    data, took = accepting(BASE, TEXT_SLOTS, payload)
    hostile = write(tmp_path, data, payload)
    # Its twin: the same fields filled with harmless text (and so the same differences).
    twin = write(tmp_path, fill(BASE, took, "benign text"), "twin")
    base = write(tmp_path, BASE, "base")
    for args in (
        ["replay", "{}", "--headless"],
        ["compare", str(base), "{}", "--headless"],
        ["export", "{}", "--out-dir", "{dir}"],
    ):
        outputs = []
        for n, path in enumerate((twin, hostile)):
            folder = tmp_path / f"out-{n}"
            folder.mkdir(exist_ok=True)
            argv = [a.format(path, dir=folder) if "{" in a else a for a in args]
            result = runner.invoke(cli, argv)
            assert result.exit_code == 0, result.output
            check_lines(result.output)
            outputs.append(result.output)
        # No forged lines: the hostile file prints as many lines as its twin.
        assert len(outputs[1].splitlines()) == len(outputs[0].splitlines()), outputs[1]
    exported = {p: p.read_text() for p in (tmp_path / "out-1").iterdir()}
    assert len(exported) == 5  # history, curve, inside, stats, curves.svg
    check_export(exported)


@pytest.mark.parametrize("slot", [s for s in TEXT_SLOTS + LITERAL_SLOTS if not loads(
    put(BASE, s, ALL))], ids=lambda s: "/".join(s.path))  # fmt: skip
def test_refused_fields_give_one_clean_line(slot: Any, tmp_path: Path) -> None:
    path = write(tmp_path, put(BASE, slot, ALL), "refused")
    for argv in (["replay", str(path)], ["export", str(path)], ["compare", str(path), str(path)]):
        result = runner.invoke(cli, argv)
        assert result.exit_code == 2
        assert len(result.output.splitlines()) == 1, result.output
        check_lines(result.output)


async def check_screens(app: BntuiApp, keys: str) -> None:
    """Show every tab: the guard, which sees every line drawn and would drop any raw
    character, never had to (the text was clean before any widget got it)."""
    async with app.run_test(size=(120, 40)) as pilot:
        await replay_to_end(app, pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            app.dashboard.redraw()
            await pilot.pause()
            assert app.guard.caught == 0, key
        assert not raw_characters(app.export_screenshot())


@pytest.mark.parametrize("name", ["all", "compact", "markup-unbalanced"])
async def test_every_field_at_once_on_every_screen(name: str) -> None:
    payload = ALL if name == "all" else PAYLOADS[name]
    data = fill(BASE, TEXT_SLOTS, payload)
    run = parse_run(json.dumps(data).encode())
    await check_screens(BntuiApp(ReplaySession(run, speed=1000)), "12345n")
    labels, names = labels_for([Path("base.json"), Path(f"{payload}.json")])
    compare = CompareSession([BASE_RUN, run], labels, names)
    await check_screens(BntuiApp(compare), "0")
    if name == "all":
        document = {"kind": "sweep", "schema_version": 1, "bntui_version": "0", "status":
                    "completed", "started_at": "x", "target_accuracy": 0.5, "batch_sizes": [32],
                    "runs": [data]}  # fmt: skip
        sweep = parse_document(
            json.dumps(fill(document, text_slots(SweepFile), payload)).encode(), "s"
        )
        assert isinstance(sweep, SweepFile)
        await check_screens(BntuiApp(SweepReplaySession(sweep, speed=1000)), "0")


def test_worker_strings_are_cleaned_on_arrival() -> None:
    """Every event type, every text field of its JSON line (keys too) carrying the payloads:
    the event, the run recorded from it and its headless line hold no raw character."""
    recorder = RunRecorder(BASE_RUN.spec)
    for kind, cls in EVENT_TYPES.items():
        fields: dict[str, Any] = {"model": "bn", "t": 1.0}
        for f in dataclasses.fields(cls):
            hint = str(f.type)
            if hint.startswith("list[dict"):
                fields[f.name] = [{ALL: ALL, "name": ALL, "kind": "dense"}]
            elif hint.startswith("dict"):
                fields[f.name] = {ALL: ALL, "name": ALL, "kind": "dense", "what": ALL}
            elif "str" in hint and f.name != "model":
                fields[f.name] = ALL
        event = parse_event(json.dumps({"type": kind, **fields}))
        assert not [s for s in strings_in(vars(event)) if raw_characters(s, lines=False)]
        try:
            recorder.apply(event)
        except ValueError:
            pass  # a record that does not validate is refused, not stored raw
        check_lines(event_line(recorder.run, event) or "")
    assert not [s for s in strings_in(recorder.run.model_dump()) if raw_characters(s)]
