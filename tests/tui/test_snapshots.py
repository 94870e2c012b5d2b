"""Snapshots of the dashboard at 80x24, fed by a recorded run (deterministic)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SMALL_RUN, SMALL_SEEDS, SMALL_SWEEP
from screen import replay_to_end

from bntui.record.runfile import load_run
from bntui.record.sweep import SweepFile, load_document
from bntui.session.sessions import CompareSession, ReplaySession, SweepReplaySession
from bntui.tui.app import BntuiApp


def replayed_app() -> BntuiApp:
    return BntuiApp(ReplaySession(load_run(SMALL_RUN), speed=1000))


async def finish(pilot: Any) -> None:
    await replay_to_end(pilot.app, pilot)


def test_training_tab(snap_compare: Any) -> None:
    assert snap_compare(replayed_app(), terminal_size=(80, 24), run_before=finish)


def test_accuracy_curves(snap_compare: Any) -> None:
    assert snap_compare(replayed_app(), terminal_size=(80, 24), run_before=finish, press=["m"])


def test_results_tab(snap_compare: Any) -> None:
    assert snap_compare(replayed_app(), terminal_size=(80, 24), run_before=finish, press=["4"])


def test_models_tab(snap_compare: Any) -> None:
    assert snap_compare(replayed_app(), terminal_size=(80, 24), run_before=finish, press=["2"])


def test_inside_tab(snap_compare: Any) -> None:
    assert snap_compare(replayed_app(), terminal_size=(80, 24), run_before=finish, press=["i"])


def test_inside_gradient_norms(snap_compare: Any) -> None:
    assert snap_compare(
        replayed_app(), terminal_size=(80, 24), run_before=finish, press=["i", *"nnnn"]
    )


def seeds_app() -> BntuiApp:
    return BntuiApp(ReplaySession(load_run(SMALL_SEEDS), speed=1000))


def test_seeds_training_tab(snap_compare: Any) -> None:
    assert snap_compare(seeds_app(), terminal_size=(80, 24), run_before=finish)


def test_each_seed(snap_compare: Any) -> None:
    assert snap_compare(seeds_app(), terminal_size=(80, 24), run_before=finish, press=["b"])


def test_seeds_training_tab_no_color(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under NO_COLOR the band reads by its dotted edges, each seed by its glyph."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(seeds_app(), terminal_size=(80, 24), run_before=finish)


def test_each_seed_no_color(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(seeds_app(), terminal_size=(80, 24), run_before=finish, press=["b"])


def test_seeds_results_tab(snap_compare: Any) -> None:
    assert snap_compare(seeds_app(), terminal_size=(80, 24), run_before=finish, press=["4"])


def test_sweep_tab(snap_compare: Any) -> None:
    sweep = load_document(str(SMALL_SWEEP))
    assert isinstance(sweep, SweepFile)
    assert snap_compare(
        BntuiApp(SweepReplaySession(sweep, speed=1000)), terminal_size=(80, 24), run_before=finish
    )


def test_compare_tab(snap_compare: Any) -> None:
    runs = [
        load_run(SMALL_RUN.parent.parent.parent / "sample_runs" / "fashion-sgd-default.json"),
        load_run(SMALL_RUN),
    ]
    app = BntuiApp(CompareSession(runs, ["A", "B"], ["fashion-sgd-default", "small_run"]))
    assert snap_compare(app, terminal_size=(80, 24), run_before=finish)
