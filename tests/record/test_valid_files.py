"""Anything that validates renders. Hypothesis builds run files within the schema's own
bounds: it starts from the recorded run and puts in-bound values (found by walking the
models: every number with its bounds, Literal, text, optional part) into it, then drives
every viewer over the files that validate: the headless summary, compare, export, the
replayed event stream, and the dashboard (every tab and key). No exception may escape; a
file that does not validate gets one clean message."""

from __future__ import annotations

import asyncio
import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conftest import SMALL_RUN
from hostile import base_data, raw_characters
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from schema_walk import Slot, places, slots
from screen import replay_to_end

from bntui.outputs.export import export_files
from bntui.outputs.headless import compare_lines
from bntui.outputs.summary import summary_lines
from bntui.record.recorder import RunRecorder, empty_like
from bntui.record.replay import events_from_run
from bntui.record.runfile import RunFile, RunFileError, load_run, parse_run
from bntui.session.sessions import CompareSession, ReplaySession
from bntui.tui.app import BntuiApp

BASE = base_data()
BASE_RUN = parse_run(json.dumps(BASE).encode())
MUTABLE = slots(RunFile)
WIDE = 10**20  # where the models state no bound


def _limits(slot: Slot, default: float) -> tuple[float, float]:
    lo = slot.bound("ge")
    lo = slot.bound("gt") if lo is None else lo
    hi = slot.bound("le")
    if hi is None and slot.bound("lt") is not None:
        hi = slot.bound("lt") - (1 if slot.kind == "int" else 1e-9)
    return (-default if lo is None else lo), (default if hi is None else hi)


def values(slot: Slot) -> st.SearchStrategy[Any]:
    """In-bound values for `slot`, the bounds themselves drawn often."""
    if slot.kind == "literal":
        return st.sampled_from(slot.choices)
    if slot.kind == "bool":
        return st.booleans()
    if slot.kind in ("text", "key"):
        pattern = slot.bound("pattern")
        if pattern:
            return st.from_regex(pattern, fullmatch=True)
        # Markup and control characters often: they are what breaks a viewer.
        alphabet = st.characters() | st.sampled_from("[]/=@-\x1b\n\u202e")
        return st.text(alphabet, max_size=min(slot.bound("max_length") or 80, 80))
    lo, hi = _limits(slot, WIDE if slot.kind == "int" else 1e300)
    if slot.kind == "int":
        lo, hi = int(lo), int(hi)
        return st.sampled_from([lo, hi, 0, 1]).filter(lambda v: lo <= v <= hi) | st.integers(lo, hi)
    edges = st.sampled_from([lo, hi, 0.0, 5e-324, 1e-9]).filter(lambda v: lo <= v <= hi)
    return edges | st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """The recorded run with one to four slots changed (one place or all of a slot's)."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        slot = draw(st.sampled_from(MUTABLE))
        found = places(data, slot.path)
        if not found:
            continue
        if not draw(st.booleans()):
            found = [found[draw(st.integers(0, len(found) - 1))]]
        if slot.kind == "optional":
            for parent, key in found:
                parent.pop(key, None)
            continue
        value = draw(values(slot))
        for parent, key in found:
            target = parent[key] if slot.kind == "key" else None
            if isinstance(target, dict) and target:
                target[value] = target.pop(next(iter(target)))
            elif slot.kind != "key":
                parent[key] = value
    return data


def load(data: dict[str, Any]) -> RunFile | None:
    """The run, or None if it does not validate (its message must be one clean line)."""
    try:
        return parse_run(json.dumps(data).encode())
    except RunFileError as exc:
        assert str(exc) and not raw_characters(str(exc), lines=False)
        event("refused")
        return None


FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@FAST
@given(mutated())
def test_valid_files_render_headless_compare_export_replay(data: dict[str, Any]) -> None:
    run = load(data)
    if run is None:
        return
    assert summary_lines(run)
    assert compare_lines([BASE_RUN, run], ["A", "B"], ["a", "b"])
    files = export_files(run, Path("/nonexistent/x"))
    ET.fromstring(files[Path("/nonexistent/x-curves.svg")])
    recorder = RunRecorder(run.spec, empty_like(run))
    for replayed in events_from_run(run):
        recorder.apply(replayed)


async def drive(run: RunFile) -> None:
    """Replay `run` to its end and press every tab and view key; then compare it."""
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=(100, 30)) as pilot:  # re-raises anything the app raised
        await replay_to_end(app, pilot)
        for key in "12345nmv":
            await pilot.press(key)
            await pilot.pause()
            app.dashboard.redraw()
    app = BntuiApp(CompareSession([BASE_RUN, run], ["A", "B"], ["a", "b"]))
    async with app.run_test(size=(100, 30)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("0")
        await pilot.pause()
        app.dashboard.redraw()


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_valid_files_render_in_the_dashboard(data: dict[str, Any]) -> None:
    run = load(data)
    if run is not None:
        asyncio.run(drive(run))


def test_a_worker_never_sampled_for_cpu_still_renders() -> None:
    """Memory samples without a CPU reading (valid: every reading may be null) once crashed
    the Device tab (Hypothesis found it)."""
    from bntui.tui.widgets.device_panel import system_text

    run = load_run(SMALL_RUN)
    series = run.system.series
    for key in ("plain", "bn"):
        series[f"{key}.cpu_pct"] = [None] * len(run.system.t)
    assert system_text(run).plain.count("worker ended") == 2
