"""Keys a learner can find: the help (`?`, F1) lists every key of the screen on show, `l`
shows cut messages whole, a key that cannot act says why, and a failure is said on the
Device tab instead of "waiting"."""

from __future__ import annotations

from typing import Any

from conftest import DATA
from screen import replay_to_end, status_of, text_of, until
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from bntui.claims.claimfile import load_claims
from bntui.core.events import ModelDone
from bntui.core.spec import ExperimentSpec
from bntui.record.recorder import RunRecorder
from bntui.record.runfile import RunFile
from bntui.session.sessions import CompareSession, ReplaySession
from bntui.tui.app import BntuiApp
from bntui.tui.claims_app import ClaimsApp
from bntui.tui.screens.claims import ClaimsScreen
from bntui.tui.screens.dashboard import DashboardScreen
from bntui.tui.screens.help import CLOSES, MORE_BELOW, TextScreen

MODELS = ("plain", "bn")
# As long as the real one, and with its fix at the very end, where a panel cuts first.
REASON = (
    "MNIST is not on this machine and could not be downloaded. To get it: mkdir -p "
    "/root/.keras/datasets && curl -fLo /root/.keras/datasets/mnist.npz https://example/"
    "mnist.npz; or train on Fashion-MNIST, which is here: --dataset fashion_mnist."
)


def failed_run() -> RunFile:
    spec = ExperimentSpec(preset="mnist-adam", dataset="mnist", architecture="mnist")
    recorder = RunRecorder(spec)
    for key in MODELS:
        recorder.apply(ModelDone(model=key, t=2.5, status="failed", error=REASON))
    return recorder.finish()


def modal_text(app: Any) -> str:
    """The whole text of the modal on top (unwrapped, however narrow the terminal)."""
    screen = app.screen
    assert isinstance(screen, TextScreen)
    return " ".join(text_of(screen.query_one(Static)).split())


def footer_text(app: Any) -> str:
    footer = app.screen.query_one(Footer)
    return " ".join(str(key.render()) for key in footer.query("FooterKey"))


async def test_a_cut_reason_reads_whole_on_l_and_on_the_device_tab() -> None:
    app = BntuiApp(ReplaySession(failed_run(), speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        panel = text_of(app.screen.query_one("#stats-plain"))
        assert "✗ failed (l: whole)" in panel
        assert "l Log" in footer_text(app)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, TextScreen), "the messages")
        whole = modal_text(app)
        for title in ("Plain MLP", "MLP + BatchNorm"):
            assert f"{title} failed: {REASON}" in whole
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        await pilot.press("3")
        await pilot.pause()
        device = " ".join(text_of(app.screen.query_one("#device-panel")).split())
        assert "waiting for the workers" not in device
        assert "No device was recorded: the models failed before" in device
        assert f"Plain MLP failed: {REASON}" in device  # wrapped, never cut


async def test_help_lists_every_key_and_why_one_cannot_act(small_run: RunFile) -> None:
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        # The replay has ended: p cannot act, and the footer redraws without it.
        await until(pilot, lambda: "Pause" not in footer_text(app), "the footer without p")
        footer = footer_text(app)
        for entry in ("? Help", "1–5 Tabs", "c Shot", "q Quit"):
            assert entry in footer, footer
        for key in ("question_mark", "f1"):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, TextScreen), "the help")
            keys = modal_text(app)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
            for binding in DashboardScreen.BINDINGS:
                if binding.show or "why_not" not in binding.action:
                    assert binding.tooltip is None or binding.tooltip in keys
            for line in (
                "quit; while training, asks first",
                "?, f1 these keys",
                "5, i the Inside tab",
                "] Results tab, several seeds: the next seed's test results",
                "[ Results tab, several seeds: the previous seed's test results",
                "c save the screen as SVG in runs/",
                "replay: jump to the end (not now: the replay is at its end already)",
                "(not now: one seed: b, [ and ] act on runs of several seeds",
                "(not now: the run has ended: nothing to pause)",
            ):
                assert line in keys, keys
            assert "why_not" not in keys and "1–5" not in keys
        # A key that cannot act says why instead of doing nothing.
        for key, why in (
            ("e", "the replay is at its end already"),
            ("b", "one seed"),
            ("n", "this key acts on the Inside tab (5)"),
            ("0", "this is one run"),
            ("p", "the run has ended: nothing to pause"),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert why in app.dashboard.message, key
        await pilot.press("5")
        await pilot.press("n")
        await pilot.pause()
        assert app.dashboard.inside_view == 1  # on its tab, n acts


async def test_p_leaves_the_footer_when_a_run_that_ended_while_paused_resumes(
    small_run: RunFile,
) -> None:
    """A live run goes on under a paused view and may end there: once resumed, `p` has
    nothing to pause and leaves the footer (while paused it stays: it resumes)."""
    app = BntuiApp(ReplaySession(small_run, speed=1))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "p Pause" in footer_text(app), "the footer with p")
        await pilot.press("p")
        await until(pilot, lambda: "PAUSED" in status_of(app), "the paused view")
        app.dashboard.ended = True  # the stream's end, as a live run's arrives under a pause
        await pilot.pause()
        assert "p Pause" in footer_text(app)  # still the way to resume
        await pilot.press("p")
        await until(pilot, lambda: "PAUSED" not in status_of(app), "the resumed view")
        await until(pilot, lambda: "Pause" not in footer_text(app), "the footer without p")


async def test_a_comparison_says_what_it_is(small_run: RunFile) -> None:
    app = BntuiApp(CompareSession([small_run, small_run], ["A", "B"], ["one", "two"]))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        status = status_of(app)
        assert status.strip().startswith("COMPARE") and "REPLAY" not in status
        assert "0–5 Tabs" in footer_text(app)
        await pilot.press("1")  # the footer's 1–5 stands aside, and 1 still acts
        await pilot.pause()
        assert app.dashboard.active_tab == "training"


async def test_the_claims_tab_has_help_and_says_why_a_key_cannot_act() -> None:
    path = DATA / "claims_tiny.json"
    app = ClaimsApp.replay(load_claims(path), 1000, path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ClaimsScreen), "the Claims tab")
        screen = app.screen
        assert isinstance(screen, ClaimsScreen)
        await until(pilot, lambda: screen.view.ended is not None, "the replay's end")
        await pilot.press("escape")
        await pilot.pause()
        assert "Enter opens a claim's view" in screen.message
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, TextScreen), "the help")
        keys = modal_text(app)
        assert "n the next claim's view" in keys and "e replay: jump to the end (not now:" in keys
        assert "from a claim's view back to the list (not now: the list is shown" in keys
        # bntui's words for every key, the list's own too (not "Select", "First", "Open").
        for label in ("Select", "Down", "First", "Last", "Open", "Quit", "Pause", "Scroll"):
            assert f" {label} " not in f" {keys} ", keys
        assert "↑, k the claim above" in keys and "⏎, → open the claim's view" in keys
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ClaimsScreen), "the Claims tab")
        await pilot.press("l")  # the list's own keys leave l to the messages
        await until(pilot, lambda: isinstance(app.screen, TextScreen), "the messages")
        assert "Enter opens a claim's view" in modal_text(app)


async def open_help(app: Any, pilot: Any) -> VerticalScroll:
    """Replay to the end, open the help; its scrolling box."""
    await replay_to_end(app, pilot)
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(app.screen, TextScreen), "the help")
    return app.screen.query_one(VerticalScroll)


async def test_the_help_says_when_keys_are_below_and_speaks_one_way(small_run: RunFile) -> None:
    """At 80x24 the help holds more keys than it shows: its border says so until the last
    key is on screen (a scrollbar alone was easy to miss). Textual's own keys are said in
    bntui's words, not as Title Case labels."""
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        box = await open_help(app, pilot)
        await until(pilot, lambda: box.max_scroll_y > 0, "the help laid out, cut at 24 rows")
        await until(pilot, lambda: box.border_subtitle == MORE_BELOW, "the mark of more below")
        keys = modal_text(app)
        for words in ("Focus Next", "Focus Previous", "Previous tab", "Next tab"):
            assert words not in keys, keys
        assert "tab move the focus to the next part of the screen" in keys
        assert "→ the next tab" in keys
        # A replay trains nothing: p holds the replay (it said "training goes on").
        assert "p pause / resume the view (live: training goes on; a replay holds" in keys
        while box.scroll_y < box.max_scroll_y:
            await pilot.press("pagedown")
            await pilot.pause()
        await until(pilot, lambda: box.border_subtitle == CLOSES, "the mark gone at the end")
        await pilot.press("pageup")
        await until(pilot, lambda: box.border_subtitle == MORE_BELOW, "the mark back")
    # Tall enough for every key: no mark.
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(120, 60)) as pilot:
        box = await open_help(app, pilot)
        await until(pilot, lambda: box.size.height > 20, "the help laid out")
        await pilot.pause()
        assert box.max_scroll_y == 0 and box.border_subtitle == CLOSES
