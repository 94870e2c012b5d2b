"""The Claims tab: a recorded battery (tests/data/claims_tiny.json) replayed fast drives it,
and what is on screen is what `measures()` and `bntui.claims.texts` say; keys move through
the claims and open each one's view; `bntui replay` of a claims file, with and without a
terminal; pausing a replay; and real tiny batteries, live: completed, stopped with `q` or
Ctrl-C, failed, each with the exit code of the one table."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, bntui_command
from rich.text import Text
from screen import until
from textual.widget import Widget
from textual.widgets import Static

from bntui.claims.battery import CLAIMS
from bntui.claims.claimfile import ClaimsFile, load_claims
from bntui.claims.events import BatteryEnded, CellEnded, CellStarted
from bntui.claims.found import y_range
from bntui.claims.measures import measures
from bntui.claims.outputs.headless import file_lines, table
from bntui.claims.replay import BatteryReplay, timeline
from bntui.claims.texts import interval_text, paragraph, status_word
from bntui.tui.claims_app import ClaimsApp
from bntui.tui.screens.claims import ClaimsScreen
from bntui.tui.widgets.claims.chart import TickChart, chart_series, legend
from bntui.tui.widgets.claims.detail import ClaimDetail
from bntui.tui.widgets.claims.listing import MARKS, ClaimList, mark

CLAIMS_TINY = DATA / "claims_tiny.json"
# The keys to the cost claim: the last claim, then back past the claims after it.
TO_COST = ("G", *["N"] * (len(CLAIMS) - 1 - list(CLAIMS).index("cost")))


def replayed(speed: float = 1000) -> ClaimsApp:
    return ClaimsApp.replay(load_claims(CLAIMS_TINY), speed, CLAIMS_TINY)


def claims_screen(app: ClaimsApp) -> ClaimsScreen:
    screen = app.screen
    assert isinstance(screen, ClaimsScreen)
    return screen


async def replay_to_end(pilot: Any) -> ClaimsScreen:
    """Wait (on a condition) until the replay has delivered the battery's end."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ClaimsScreen), "the Claims tab")
    screen = claims_screen(app)
    await until(pilot, lambda: screen.view.ended is not None, "the replay's end")
    detail = screen.query_one(ClaimDetail)
    # The claim's view redraws after the end too: its verdict is no longer provisional.
    await until(pilot, lambda: detail.shown is None or not detail.shown.provisional,
                "the claim's view of the finished battery")  # fmt: skip
    # The redraw after it: a refresh, then the layout it asks for, then its paint.
    for _ in range(3):
        await pilot.pause()
    return screen


def list_text(screen: ClaimsScreen) -> str:
    return screen.query_one(ClaimList).render().plain


def shown(widget: Static) -> str:
    """A Static's text, unwrapped."""
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


def detail_text(screen: ClaimsScreen) -> str:
    detail = screen.query_one(ClaimDetail)
    return "\n".join(shown(s) for s in detail.query(Static) if s.id and s.id.startswith("claim-"))


def status_text(screen: ClaimsScreen) -> str:
    return shown(screen.query_one("#status", Static))


# -- replay, without the UI -------------------------------------------------------------


# The claims after `cost`, the last of the first battery: `G` then `N` this often reaches it.
AFTER_COST = len(CLAIMS) - 1 - list(CLAIMS).index("cost")


def test_timeline_re_enacts_the_file() -> None:
    claims = load_claims(CLAIMS_TINY)
    events = timeline(claims)
    assert sum(isinstance(e, CellStarted) for e in events) == len(claims.cells)
    ended = [e for e in events if isinstance(e, CellEnded)]
    assert [e.result.id for e in ended] == [
        c.id for c in sorted(claims.cells, key=lambda c: c.began + c.seconds)
    ]
    assert all(e.t == e.result.began + e.result.seconds for e in ended)
    assert isinstance(events[-1], BatteryEnded) and events[-1].status == "completed"
    times = [e.t for e in events]
    assert times == sorted(times)


def test_replay_stops_when_asked() -> None:
    replay = BatteryReplay(load_claims(CLAIMS_TINY), speed=0.01)
    events = iter(replay)
    first = next(events)  # the first cell starts at once
    assert isinstance(first, CellStarted)
    threading.Timer(0.2, replay.stop).start()
    began = time.monotonic()
    rest = list(events)
    assert not any(isinstance(e, BatteryEnded) for e in rest)
    assert time.monotonic() - began < 5  # it waited on the event, not the recorded pace


# -- the Claims tab ---------------------------------------------------------------------


async def test_every_claim_shows_its_verdict_and_interval() -> None:
    app = replayed()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await replay_to_end(pilot)
        rows = list_text(screen).splitlines()
        found = measures(load_claims(CLAIMS_TINY))
        assert len(rows) == 1 + len(found)
        for row, m in zip(rows[1:], found):
            assert row[2:].split()[0] == m.claim
            assert status_word(m) in row
            # The interval's digits; its seed count gives way first where the row is short.
            interval = interval_text(m.interval, CLAIMS[m.claim].unit)
            assert interval.split(" (n=")[0] in row
        status = status_text(screen)
        total = len(load_claims(CLAIMS_TINY).plan())
        assert "REPLAY END" in status and f"{total}/{total} cells" in status and "100%" in status
        assert "tiny scale" in status and "seeds 42–43" in status


async def test_claims_fill_in_as_the_replay_goes() -> None:
    app = ClaimsApp.replay(load_claims(CLAIMS_TINY), 1.0, CLAIMS_TINY)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ClaimsScreen), "the Claims tab")
        screen = claims_screen(app)
        await until(pilot, lambda: "running" in list_text(screen), "a running claim")
        assert "REPLAY ×1" in status_text(screen)
        assert "pending" in list_text(screen) or "running" in list_text(screen)
        await pilot.press("e")  # the rest at once
        await until(pilot, lambda: screen.view.ended is not None, "the replay's end")
        await pilot.pause()
        assert "running" not in list_text(screen) and "pending" not in list_text(screen)


async def test_the_claim_view_tells_the_whole_story() -> None:
    claims = load_claims(CLAIMS_TINY)
    app = replayed()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await replay_to_end(pilot)
        for _ in range(3):
            await pilot.press("j")
        assert "▶ gradients" in list_text(screen)
        await pilot.press("enter")
        await pilot.pause()
        assert not screen.query_one(ClaimList).display
        assert screen.query_one(ClaimDetail).has_focus
        claim = CLAIMS["gradients"]
        found = next(m for m in measures(claims) if m.claim == "gradients")
        text = " ".join(detail_text(screen).split())
        for expected in (
            claim.quote,
            claim.notebook,
            claim.quantity,
            claim.rule.text(claim.unit),
            interval_text(found.interval, claim.unit),
            paragraph(found, claims.battery_scale),
            "? too few seeds",
        ):
            assert " ".join(expected.split()) in text
        for detail in found.details:
            assert interval_text(detail.interval, detail.unit) in text
        chart = screen.query_one(TickChart).render().plain
        # Plain and BN sigmoid and ReLU stacks, each a glyph of its own; ticks at the depths.
        assert all(g in chart for g in "ox+#") and "└" in chart and "4" in chart
        legend = shown(screen.query_one(".chart-legend", Static))
        assert "━o━ plain sigmoid" in legend and "━#━ BN ReLU" in legend and "min–max" in legend
        await pilot.press("n")  # the next claim's view
        await pilot.pause()
        assert CLAIMS["shift"].quote in " ".join(detail_text(screen).split())
        assert "Santurkar" in detail_text(screen)  # the shift claim's caveat
        await pilot.press("escape")
        await pilot.pause()
        assert screen.query_one(ClaimList).display and screen.query_one(ClaimList).has_focus
        assert "▶ shift" in list_text(screen)


async def test_keys_move_through_the_claims() -> None:
    app = replayed()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await replay_to_end(pilot)
        claim_list = screen.query_one(ClaimList)
        assert claim_list.selected == "convergence"
        await pilot.press("down", "down", "k")
        assert claim_list.selected == "lr"
        last = list(CLAIMS)[-1]
        await pilot.press("G")
        assert claim_list.selected == last
        await pilot.press("N")  # the previous claim (p pauses, as in the run dashboard)
        assert claim_list.selected == list(CLAIMS)[-2]
        await pilot.press("n")
        assert claim_list.selected == last
        await pilot.press("down")  # stays on the last
        assert claim_list.selected == last
        await pilot.press("up", "g")
        assert claim_list.selected == "convergence"
        detail = screen.query_one(ClaimDetail)
        await pilot.press("right")
        await pilot.pause()
        assert detail.has_focus and detail.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert detail.scroll_y > 0
        await pilot.press("left")
        await pilot.pause()
        assert claim_list.has_focus
        await pilot.press("q")
    assert app.return_value == 0


async def test_pause_holds_a_claims_replay_where_it_is() -> None:
    app = ClaimsApp.replay(load_claims(CLAIMS_TINY), 1.0, CLAIMS_TINY)  # slow: pause first
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ClaimsScreen), "the Claims tab")
        screen = claims_screen(app)
        await until(pilot, lambda: "REPLAY ×1" in status_text(screen), "the first frame")
        await pilot.press("p")
        before, cells = list_text(screen), screen.view.cells_done
        await pilot.press("e")  # even a jump to the end waits for the pause to end
        for _ in range(20):
            await pilot.pause()
        assert "PAUSED" in status_text(screen) and screen.view.ended is None
        assert list_text(screen) == before and screen.view.cells_done == cells
        assert not app.stream_done.is_set()
        await pilot.press("p")
        await until(pilot, lambda: screen.view.ended is not None, "the end after resuming")
        await pilot.pause()
        assert "REPLAY END" in status_text(screen) and list_text(screen) != before
        await pilot.press("p")  # a replay that ended has nothing to pause
        assert "nothing to pause" in status_text(screen) and "PAUSED" not in status_text(screen)
        await pilot.press("q")
    assert app.return_value == 0


async def test_no_color_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = replayed()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await replay_to_end(pilot)
        assert app.no_color
        rows = list_text(screen)
        assert "? too few seeds" in rows and "▶ convergence" in rows
        svg = app.export_screenshot()
        assert "seeds" in svg and "█" in svg


def luminance(color: Any) -> float:
    """WCAG relative luminance of a Rich colour triplet."""
    channels = [v / 255 for v in color]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def drawn(widget: Widget, words: str) -> list[tuple[str, float]]:
    """Each piece of `widget`'s lines, as drawn (NO_COLOR's filter applied), that holds
    `words`: its text and its contrast with its background (WCAG: 4.5 reads as text)."""
    found = []
    for strip in widget.render_lines(widget.size.region):
        for segment in strip:
            style = segment.style
            if words not in segment.text or style is None:
                continue
            assert not style.dim, segment  # dimming must not carry meaning either
            assert style.color is not None and style.bgcolor is not None, segment
            fg, bg = (
                luminance(style.color.get_truecolor()),
                luminance(style.bgcolor.get_truecolor()),
            )
            found.append((segment.text, (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)))
    return found


async def test_no_color_verdicts_read_by_glyph_and_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under NO_COLOR (set before the app is built, as Textual reads it then) every
    verdict is on screen with its glyph, and drawn as legible text, not a grey on grey:
    in the list and in the claim's view."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = replayed()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await replay_to_end(pilot)
        claim_list = screen.query_one(ClaimList)
        rows = list_text(screen)
        tiny = measures(load_claims(CLAIMS_TINY))
        for found in tiny:
            assert f"{MARKS[found.verdict or ''][0]} {status_word(found)}" in rows
        pieces = drawn(claim_list, "too few seeds")
        assert len(pieces) == len(CLAIMS) and all(ratio >= 4.5 for _, ratio in pieces), pieces
        # Every verdict the battery can give (the tiny file has two seeds: one of them),
        # drawn without colour or dimming under NO_COLOR.
        for verdict in ("supported", "not supported", "no effect", "too few seeds"):
            symbol, style = mark(replace(tiny[0], verdict=verdict), no_color=True)  # type: ignore[arg-type]
            assert symbol and style.color is None and not style.dim and style.bold
        await pilot.press(*TO_COST, "enter")  # cost
        await pilot.pause()
        head = screen.query_one("#claim-head", Static)
        assert "? too few seeds" in shown(head)
        assert all(ratio >= 4.5 for _, ratio in drawn(head, "too few seeds"))
        legend = screen.query_one(".chart-legend", Static)
        assert all(ratio >= 4.5 for _, ratio in drawn(legend, "BN"))


def test_claims_tab_snapshot(snap_compare: Any) -> None:
    assert snap_compare(replayed(), terminal_size=(80, 24), run_before=replay_to_end)


def test_claims_tab_no_color_snapshot(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Claims tab as NO_COLOR draws it: verdicts by glyph and word, in one colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(replayed(), terminal_size=(80, 24), run_before=replay_to_end)


def test_claim_view_snapshot(snap_compare: Any) -> None:
    async def open_gradients(pilot: Any) -> None:
        await replay_to_end(pilot)
        await pilot.press("j", "j", "j", "enter")

    assert snap_compare(replayed(), terminal_size=(80, 24), run_before=open_gradients)


async def test_each_chart_draws_its_figures_y_axis() -> None:
    """The chart's y axis is the figure's `y_range` (the report's SVG draws the same):
    time from zero; a cut axis says where it starts, beside the title."""
    found = {m.claim: m for m in measures(load_claims(CLAIMS_TINY))}
    app = replayed()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await replay_to_end(pilot)
        await pilot.press(*TO_COST, "enter")
        await pilot.pause()
        chart, note = screen.query_one(TickChart), screen.query_one(".chart-cut", Static)
        figure = found["cost"].figure
        assert figure is not None and figure.from_floor
        assert chart.axis_labels()[1] == "0" and shown(note) == ""
        for _ in range(3):
            await pilot.press("N")  # back to regularisation, whose axis is cut
        await pilot.pause()
        axis = y_range(found["regularisation"].figure)  # type: ignore[arg-type]
        assert axis is not None and axis.cut
        assert chart.y_bounds() == (axis.low, axis.high)
        assert shown(note).strip() == axis.cut_text() == f"y axis from {axis.low:.3g}, not 0"
        assert chart.axis_labels()[1] == f"{axis.low:.3g}"
        # At 80 columns the long title gives way; the note is on screen whole.
        title = screen.query_one(".chart-title", Static)
        assert "".join(s.text for s in title.render_lines(title.size.region)[0]).endswith("…")
        line = "".join(s.text for s in note.render_lines(note.size.region)[0])
        assert axis.cut_text() in line


def test_no_color_chart_lines_carry_no_colour() -> None:
    figure = next(m.figure for m in measures(load_claims(CLAIMS_TINY)) if m.claim == "smoothness")
    assert figure is not None
    plain = chart_series(figure, no_color=True)
    assert {s.style for s in plain} == {""} and [s.glyph for s in plain] == ["o", "x"]
    assert all(s.style for s in chart_series(figure))
    assert not legend(figure, no_color=True).spans or all(
        span.style.color is None and not span.style.dim  # type: ignore[union-attr]
        for span in legend(figure, no_color=True).spans
    )


async def test_a_failed_claim_shows_its_error_as_text(tmp_path: Path) -> None:
    data = json.loads(CLAIMS_TINY.read_text())
    cell = next(c for c in data["cells"] if c["spec"]["id"] == "cost/bn")
    cell.update(status="failed", results=[], error="[bold red]boom[/] \x1b[31mOOM")
    data["status"] = "failed"
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(data))
    claims = load_claims(path)
    app = ClaimsApp.replay(claims, 1000, path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await replay_to_end(pilot)
        row = next(r for r in list_text(screen).splitlines() if "cost" in r)
        assert "! failed" in row and "[bold red]boom[/]" in row  # markup shown, not applied
        assert "\x1b" not in list_text(screen) and "^[[31mOOM" in row
        await pilot.press(*TO_COST, "enter")
        await pilot.pause()
        text = detail_text(screen)
        assert "error: cost/bn: [bold red]boom[/] ^[[31mOOM" in text
        assert "no chart: a cell of this claim failed" in screen.query_one(TickChart).render().plain
        assert "REPLAY END" in status_text(screen) and "1 failed" in status_text(screen)
        assert "recorded battery failed" in status_text(screen)


# -- bntui replay FILE ------------------------------------------------------------------


def test_replay_headless_prints_the_table(clean_env: dict[str, str]) -> None:
    result = subprocess.run(
        [*bntui_command(), "replay", str(CLAIMS_TINY), "--headless"],
        capture_output=True, text=True, env=clean_env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == file_lines(load_claims(CLAIMS_TINY), str(CLAIMS_TINY))
    assert lines[0].startswith(f"claims file {CLAIMS_TINY}: completed, ")
    assert lines[1:] == table(load_claims(CLAIMS_TINY)) and "rule: supported if" in lines[5]


def test_replay_of_a_corrupt_claims_file_is_one_error(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    data = json.loads(CLAIMS_TINY.read_text())
    data["cells"][0]["spec"]["seeds"] = [7, 8]  # not the battery's seeds
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = subprocess.run(
        [*bntui_command(), "replay", str(bad)],
        capture_output=True, text=True, env=clean_env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bntui: error:"), result.stderr
    assert "has other seeds than the battery" in lines[0]
    assert "Traceback" not in result.stderr


# -- live -------------------------------------------------------------------------------


@pytest.mark.slow
async def test_live_battery_lands_its_verdict(tmp_path: Path) -> None:
    from bntui.claims.runner import BatteryRun

    out = tmp_path / "c.json"
    run = BatteryRun(ClaimsFile(claims=["gradients"], scale="tiny", seed=42), out)
    app = ClaimsApp.live(run)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ClaimsScreen), "the Claims tab")
        screen = claims_screen(app)
        assert "LIVE" in status_text(screen)
        deadline = time.monotonic() + 300  # a bound against a hang, not a pace
        while screen.view.ended is None:
            assert time.monotonic() < deadline, "the battery never ended"
            await pilot.pause(0.1)
        await pilot.pause()
        found = measures(load_claims(out))[0]
        assert found.verdict is not None
        assert f"{status_word(found)}" in list_text(screen)
        assert interval_text(found.interval, CLAIMS["gradients"].unit) in list_text(screen)
        assert "COMPLETED" in status_text(screen) and "saved" in status_text(screen)
        await pilot.press("q")  # ended: no question
    assert app.return_value == 0 and app.exit_code() == 0
    assert load_claims(out).status == "completed"


@pytest.mark.slow
@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quitting_a_live_battery_confirms_then_saves_it_interrupted(
    tmp_path: Path, key: str
) -> None:
    from bntui.claims.runner import BatteryRun
    from bntui.tui.screens.confirm import ConfirmScreen

    out = tmp_path / "c.json"
    run = BatteryRun(ClaimsFile(claims=["convergence"], scale="tiny", seed=42), out)
    app = ClaimsApp.live(run)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ClaimsScreen), "the Claims tab")
        screen = claims_screen(app)
        await until(pilot, lambda: bool(screen.view.running), "a cell training")
        await pilot.press(key)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, app.stream_done.is_set, "the battery stopped")
    # Stopped as asked, after confirming: exit 0, as the run dashboard's `q` (README).
    assert app.return_value == 0 and app.exit_code() == 0
    saved = load_claims(out)
    assert saved.status == "interrupted"
    assert all(cell.status == "done" for cell in saved.cells)  # no cell blamed for the stop
    assert app.closing_lines()[-1] == f"bntui: resume with: bntui claims --resume {out}"


def fails(job: Any, progress: Any) -> None:
    """A cell's work that raises, in a real worker process."""
    raise RuntimeError(f"{job.id} cannot train")


@pytest.mark.slow
async def test_a_failed_battery_exits_1(tmp_path: Path) -> None:
    from bntui.claims.runner import BatteryRun
    from bntui.procs.scheduler import ProcessExecutor

    out = tmp_path / "c.json"
    executor = ProcessExecutor(fails, [{"_cores": ""}])
    run = BatteryRun(ClaimsFile(claims=["gradients"], scale="tiny", seed=42), out, executor)
    app = ClaimsApp.live(run)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ClaimsScreen), "the Claims tab")
        screen = claims_screen(app)
        await until(pilot, app.stream_done.is_set, "the battery's end")
        await until(pilot, lambda: "FAILED" in status_text(screen), "FAILED on screen")
        assert "! failed" in list_text(screen) and "cannot train" in list_text(screen)
        await pilot.press("q")  # ended: no question
    assert app.return_value == 1 and app.finish() == 1
    saved = load_claims(out)
    assert saved.status == "failed" and all(c.status == "failed" for c in saved.cells)
