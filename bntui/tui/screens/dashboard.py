"""The dashboard: both models' live panels, and tabs for models, devices, results, inside.

The screen owns the keys and the view's state (reactives whose watchers redraw), and draws
from its own record of the session (`bntui.session.view.RunView`), fed from the inbox that the
app's reader thread fills. It never imports Keras.
"""

from __future__ import annotations

import time
from typing import Protocol, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import var
from textual.widgets import Footer, TabbedContent, TabPane

from bntui.core.events import CallbackNote, Event
from bntui.core.metrics import STEP_METRICS, plotted
from bntui.core.spec import MAX_SAMPLE_COUNT, MODEL_KEYS, MODEL_TITLES
from bntui.core.text import clean
from bntui.session.sessions import Session
from bntui.session.view import EventInbox, RunView
from bntui.stats.figures import failures
from bntui.tui.messages import EventsPending, StreamEnded
from bntui.tui.screens.confirm import ConfirmScreen
from bntui.tui.screens.tabs import TABS, ViewSettings, draw_tab
from bntui.tui.stream_app import StreamControls, StreamScreen
from bntui.tui.widgets.device_panel import DevicePanel
from bntui.tui.widgets.hinted_scroll import HintedScroll
from bntui.tui.widgets.info_panels import ExperimentPanel, GapLine, StatusLine, SummaryPanel
from bntui.tui.widgets.inside import INSIDE_VIEWS, InsidePanel, InsideTable
from bntui.tui.widgets.model_panel import ModelPanel
from bntui.tui.widgets.results import ConfusionMatrix, PredictionCard, TestTable
from bntui.tui.widgets.runset import RunSetChart, RunSetTable
from bntui.tui.widgets.seed_results import SeedTestTable

# Curve points arrive ~20 times a second per model; drawing them twice a second keeps the
# UI process near 5% of a core while training. Keys redraw at once.
REFRESH_S = 0.5
SERIES_MODES = ("both", "train", "val")
QUIT_QUESTION = "Training is still running. Stop both models and save the run as interrupted?"


class Controls(StreamControls, Protocol):
    """What the dashboard asks of the app that runs the process (`bntui.tui.app.BntuiApp`)."""

    def save_snapshot(self) -> str:
        """Save the run now; say where (or why not)."""
        ...

    def screenshot(self) -> str:
        """Save the screen as SVG; say where (or why not)."""
        ...


class DashboardScreen(StreamScreen):
    """Everything bntui shows of a session, and the keys that change how."""

    CSS_PATH = "dashboard.tcss"
    STREAM_WORD = "the run"
    BINDINGS = [
        Binding("q", "quit_dashboard", "Quit", tooltip="quit; while training, asks first"),
        Binding("ctrl+c", "quit_dashboard", "Quit", show=False, priority=True),
        # 0–5 / 1–5 in the footer: one entry for the tab keys (the rest are hidden).
        Binding("0", "tab('runs')", "Tabs", key_display="0–5", tooltip="switch tabs"),
        Binding("1", "tabs('training')", "Tabs", key_display="1–5", system=True),
        *[
            Binding(str(i + 1), f"tab('{tab}')", f"the {tab.title()} tab", show=False)
            for i, tab in enumerate(TABS)
        ],
        Binding(
            "p",
            "pause",
            "Pause",
            tooltip="pause / resume the view (live: training goes on; a replay holds where it is)",
        ),
        Binding("m", "metric", "Metric", tooltip="the curve shown: loss → accuracy → …"),
        Binding("v", "series", "Train/val", tooltip="train + validation → train → validation"),
        Binding("s", "save", "Save", tooltip="save the run file now (a snapshot)"),
        Binding("e", "end", "End", tooltip="replay: jump to the end"),
        Binding("b", "each_seed", "Seeds", tooltip="several seeds: mean and band ↔ each seed"),
        Binding(
            "right_square_bracket",
            "next_seed(1)",
            "Seed",
            key_display="[ ]",
            tooltip="Results tab, several seeds: the next seed's test results",
        ),
        Binding(
            "left_square_bracket",
            "next_seed(-1)",
            "Previous seed",
            key_display="[",
            show=False,
            tooltip="Results tab, several seeds: the previous seed's test results",
        ),
        Binding("i", "tab('inside')", "Inside", show=False, tooltip="the Inside tab"),
        Binding("n", "inside_view", "Stat", tooltip="Inside tab: next layer statistic"),
        Binding("c", "save_screenshot", "Shot", tooltip="save the screen as SVG in runs/"),
        # Pressed while they cannot act, these keys say why (the bindings above come first).
        *[
            Binding(key, f"why_not({action})", show=False)
            for key, action in (
                ("0", "'tab', 'runs'"),
                ("s", "'save'"),
                ("p", "'pause'"),
                ("e", "'end'"),
                ("b", "'each_seed'"),
                ("right_square_bracket", "'next_seed', 1"),
                ("left_square_bracket", "'next_seed', -1"),
                ("n", "'inside_view'"),
            )
        ],
    ]

    # The view's state: each change redraws what it affects.
    metric = var("loss")
    series_mode = var("both")
    inside_view = var(0)
    each_seed = var(False)
    seed_shown = var(0)

    def __init__(self, session: Session, inbox: EventInbox[Event]) -> None:
        super().__init__()
        self.session = session
        self.inbox = inbox
        self.view = RunView(session)
        self.saved_path = ""
        self.stale = True  # the record changed since the tab on show was drawn
        self.ready = False
        # Runs side by side compare validation accuracy; a single run starts on loss.
        self.set_reactive(DashboardScreen.metric, "accuracy" if session.runs_kind else "loss")

    def compose(self) -> ComposeResult:
        """Status line, the tabs (a sweep's or comparison's first), footer of key bindings."""
        kind = self.session.runs_kind
        yield StatusLine(id="status")
        with TabbedContent(initial="runs" if kind else "training", id="tabs"):
            if kind:
                with TabPane(f"0 {kind.title()}", id="runs"), Vertical():
                    with Horizontal(id="runs-pair"):
                        for key in MODEL_KEYS:
                            yield RunSetChart(key)
                    with HintedScroll(id="runs-numbers"):
                        yield RunSetTable(id="runs-table")
            with TabPane("1 Training", id="training"), Vertical():
                with Horizontal(id="pair"):
                    for key in MODEL_KEYS:
                        yield ModelPanel(key)
                yield GapLine(id="gap")
            with TabPane("2 Models", id="models"), HintedScroll():
                yield ExperimentPanel(id="experiment")
                for key in MODEL_KEYS:
                    yield SummaryPanel(key)
            with TabPane("3 Device", id="device"), HintedScroll():
                yield DevicePanel(id="device-panel")
            with TabPane("4 Results", id="results"), HintedScroll():
                yield SeedTestTable(id="seed-tests")
                yield TestTable(id="test-table")
                for key in MODEL_KEYS:
                    yield ConfusionMatrix(key)
                with Vertical(id="predictions"):
                    for slot in range(MAX_SAMPLE_COUNT):
                        yield PredictionCard(slot)
            with TabPane("5 Inside", id="inside"), Vertical():
                with Horizontal(id="inside-pair"):
                    for key in MODEL_KEYS:
                        yield InsidePanel(key)
                with HintedScroll(id="inside-numbers"):
                    yield InsideTable(id="inside-table")
        yield Footer()

    def on_mount(self) -> None:
        """Draw now, then at most every REFRESH_S; the first tab's content takes the keys."""
        self.ready = True
        self.action_tab(self.active_tab)
        self.set_interval(REFRESH_S, self.redraw)
        self.call_after_refresh(self.redraw)

    # -- what arrives from the stream ------------------------------------------------------

    def on_events_pending(self, message: EventsPending) -> None:
        """Take what arrived since the last look into the view's own record."""
        events = self.inbox.take()
        self.view.apply(events)
        self.stale = True
        for event in events:
            if isinstance(event, CallbackNote) and self.session.runs_kind is None:
                title = MODEL_TITLES.get(event.model, event.model)
                self.flash(f"{title}: {clean(event.message, 4000)}")

    def on_stream_ended(self, message: StreamEnded) -> None:
        """Training (or the replay) is over."""
        self.view.apply(self.inbox.take())
        self.saved_path = message.saved or ""
        self.ended = True
        if message.warning:
            self.flash(message.warning, 30)

    # -- state that redraws itself ---------------------------------------------------------

    def _restyle(self) -> None:
        self.stale = True
        self.redraw()

    def watch_metric(self) -> None:
        """Loss ↔ accuracy."""
        self._restyle()

    def watch_series_mode(self) -> None:
        """Which curves."""
        self._restyle()

    def watch_inside_view(self) -> None:
        """Which layer statistic."""
        self._restyle()

    def watch_each_seed(self) -> None:
        """Several seeds: their mean and band ↔ each seed."""
        self._restyle()

    def watch_seed_shown(self) -> None:
        """Several seeds: whose test results the Results tab shows."""
        self._restyle()

    def watch_paused(self, paused: bool) -> None:
        """Frozen or live; a replay holds where it is. A run that ended while paused has
        nothing to pause once resumed: the footer drops `p` then."""
        self.session.pause(paused)
        self.refresh_bindings()
        self._restyle()

    def watch_ended(self, ended: bool) -> None:
        """The end: keys change (no pause, save says where), the record is complete. A
        question about stopping the training, still open, no longer holds: it goes."""
        if ended and isinstance(self.app.screen, ConfirmScreen):
            self.app.screen.dismiss(False)
            self.flash("training ended: nothing to stop · q quits", 30)
        self.refresh_bindings()
        self._restyle()

    def mode_word(self) -> str:
        """LIVE, REPLAY ×N, PAUSED, STOPPING, DONE, REPLAY END or COMPARE (saved runs side
        by side: nothing plays), for the status line."""
        if self.paused:
            return "PAUSED"
        if self.session.runs_kind == "compare":
            return "COMPARE"
        if self.ended:
            if not self.session.live:
                return "REPLAY END"
            return "FAILED" if failures(self.view.run) else "DONE"
        if self.stopping:
            return "STOPPING"
        speed = self.session.speed
        return "LIVE" if speed is None else f"REPLAY ×{speed:g}"

    def path_text(self) -> str:
        """The session's file for the status line: where a live run goes, or went."""
        path = self.session.path
        if path is None:
            return ""
        if not self.session.live:
            return str(path)
        if not self.ended:
            return f"→ {path}"
        return f"saved {self.saved_path}" if self.saved_path else "not saved"

    def run_label(self) -> str:
        """Which run is on show, when there are several: a sweep's batch size."""
        view = self.view
        if view.kind == "sweep":
            return f"batch {view.run.spec.batch_size} ({view.on_show + 1} of {len(view.runs)})"
        if view.kind == "compare" and view.runset is not None:
            return f"comparing {len(view.runset.runs)} runs; tabs 1–5: run A"
        return ""

    def messages(self) -> list[str]:
        """Every message whole (`l`): each failed model's reason, then what the status line
        said."""
        reasons = [
            f"{MODEL_TITLES[key]} failed: {clean(why, 4000)}"
            for key, why in failures(self.view.run)
        ]
        return reasons + super().messages()

    @property
    def active_tab(self) -> str:
        """Id of the tab on show."""
        return str(self.query_one(TabbedContent).active)

    def settings(self) -> ViewSettings:
        """The view's state, as the tabs' drawing functions take it."""
        return ViewSettings(
            self.metric,
            self.series_mode,
            self.inside_view,
            not self.app.no_color,
            self.each_seed,
            self.seed_shown,
        )

    def redraw(self) -> None:
        """Repaint the status line, and the tab on show if the record changed."""
        if not self.ready or not self.is_attached:
            return
        if self.message and time.monotonic() > self.message_until:
            self.message = ""
        try:
            run = self.view.run
            self.query_one(StatusLine).show(
                run, self.mode_word(), self.path_text(), self.message, self.run_label()
            )
            if self.stale and not self.paused:
                self.stale = False
                draw_tab(self, self.active_tab, run, self.view.runset, self.settings())
                for scroll in self.query(HintedScroll):
                    scroll.call_after_refresh(scroll.show_hint)
        except NoMatches:
            pass  # the app is exiting and has begun removing the dashboard's widgets

    def on_resize(self) -> None:
        """Widths changed: what fits changed."""
        self._restyle()

    def on_tabbed_content_tab_activated(self) -> None:
        """Draw a tab as soon as it is shown."""
        self.refresh_bindings()
        self.stale = True
        self.call_after_refresh(self.redraw)

    # -- keys ------------------------------------------------------------------------------

    @property
    def controls(self) -> Controls:
        """The app, as far as the dashboard drives it."""
        return cast(Controls, self.app)

    def why_not(self, action: str, parameters: tuple[object, ...]) -> str | None:
        """Why a key cannot act now (it is then hidden; pressing it says this)."""
        seeds = len(self.view.run.seeds)
        if action == "save" and not self.session.can_save:
            return "this is a saved file already: nothing to save"
        if action == "end":
            if not self.session.can_skip:
                return "e jumps to the end of a replay, and this run is not one"
            if self.ended:
                return "the replay is at its end already"
        if action == "tab" and parameters == ("runs",) and self.session.runs_kind is None:
            return "0 shows a sweep's or a comparison's runs; this is one run"
        if action in ("each_seed", "next_seed") and seeds < 2:
            return "one seed: b, [ and ] act on runs of several seeds (--seeds N)"
        if action in ("inside_view", "next_seed"):
            tab = "inside" if action == "inside_view" else "results"
            try:
                if self.active_tab != tab:
                    number = TABS.index(tab) + 1
                    return f"this key acts on the {tab.title()} tab ({number})"
            except NoMatches:  # asked before the tabs exist
                return "the tabs are not drawn yet"
        return super().why_not(action, parameters)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys that cannot act now (`why_not`); the footer's 1–5 entry stands for the
        tab keys where there is no tab 0 (else 0–5 does)."""
        if action == "tabs":
            return self.session.runs_kind is None
        return super().check_action(action, parameters)

    def action_tabs(self, tab: str) -> None:
        """The footer's 1–5 entry (key 1): switch tabs."""
        self.action_tab(tab)

    def action_tab(self, tab: str) -> None:
        """Switch tabs; the tab's scrollable content takes the focus, so arrow keys scroll."""
        self.query_one(TabbedContent).active = tab
        scrolls = self.query_one(f"#{tab}", TabPane).query(HintedScroll)
        if scrolls:
            scrolls.first().focus()

    def action_inside_view(self) -> None:
        """Inside tab: plot the next layer statistic."""
        self.inside_view = (self.inside_view + 1) % len(INSIDE_VIEWS)

    def action_each_seed(self) -> None:
        """Several seeds: show each seed's curve, or their mean and min–max band."""
        self.each_seed = not self.each_seed

    def action_next_seed(self, step: int) -> None:
        """Several seeds: the Results tab shows the next (or previous) seed's results."""
        self.seed_shown = (self.seed_shown + step) % len(self.view.run.seeds)

    def action_pause(self) -> None:
        """Freeze or unfreeze the view; training and recording go on."""
        self.paused = not self.paused

    def action_metric(self) -> None:
        """Toggle the curves between loss and accuracy."""
        if self.active_tab == "runs":  # runs compare by their per-epoch validation figures
            choices = tuple(m.name for m in STEP_METRICS if m.validation)
        else:
            choices = plotted()
        at = choices.index(self.metric) if self.metric in choices else -1
        self.metric = choices[(at + 1) % len(choices)]

    def action_series(self) -> None:
        """Cycle the curves: train and validation, train only, validation only."""
        self.series_mode = SERIES_MODES[(SERIES_MODES.index(self.series_mode) + 1) % 3]

    def action_save(self) -> None:
        """Write the run file now (a snapshot; the final save still happens at the end)."""
        self.flash(self.controls.save_snapshot())

    def action_save_screenshot(self) -> None:
        """Save what is on screen as an SVG in `runs/` (beside the run files)."""
        self.flash(self.controls.screenshot())

    def action_end(self) -> None:
        """Replay: jump to the end of the recording."""
        self.session.skip_to_end()

    def action_quit_dashboard(self) -> None:
        """Quit; a live training still running is stopped and saved only after confirming."""
        self.quit_or_ask(self.session.live, QUIT_QUESTION)
