"""The Claims tab: the battery's status lines, a row per claim, and the selected claim's
view below the list (Enter gives it the whole screen; Escape goes back).

The screen draws from its own `BatteryView`, fed from the inbox that the app's reader thread
fills (one `EventsPending` notice for whatever arrived), whether the battery is live or
replayed. It never imports Keras.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.reactive import var
from textual.widgets import Footer

from bntui.claims.claimfile import ClaimsFile
from bntui.claims.eta import duration
from bntui.claims.events import BatteryEnded, ClaimsEvent
from bntui.claims.view import BatteryView
from bntui.session.view import EventInbox
from bntui.tui.messages import EventsPending, StreamEnded
from bntui.tui.screens.confirm import ConfirmScreen
from bntui.tui.stream_app import StreamControls, StreamScreen
from bntui.tui.widgets.claims.detail import ClaimDetail
from bntui.tui.widgets.claims.listing import BatteryStatus, ClaimList

QUIT_QUESTION = (
    "The battery is still training. Stop it, and save the cells that finished as "
    "interrupted (bntui claims --resume trains the rest)?"
)
# How often the status line's countdown and passing messages are redrawn.
TICK_S = 1.0


@dataclass(frozen=True)
class Landed:
    """An event of the battery, and the seconds it then had left (live only), read at `at`
    (time.monotonic) by the reader thread, which alone touches the runner's estimate."""

    event: ClaimsEvent
    seconds_left: float | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Source:
    """Where the battery comes from: live (speed None) or replayed at `speed`; its file."""

    path: str
    speed: float | None = None

    @property
    def live(self) -> bool:
        """True for a battery training now."""
        return self.speed is None


class Controls(StreamControls, Protocol):
    """What the screen asks of the app (`bntui.tui.claims_app.ClaimsApp`)."""

    def skip_to_end(self) -> None:
        """Replay: deliver the rest at once."""
        ...

    def pause(self, paused: bool) -> None:
        """Replay: hold where it is, or go on."""
        ...


class ClaimsScreen(StreamScreen):
    """Every claim's verdict as results land, and one claim's whole story."""

    DEFAULT_CSS = """
    ClaimsScreen { layout: vertical; }
    ClaimsScreen.-open #claim-list { display: none; }
    """
    STREAM_WORD = "the battery"
    BINDINGS = [
        # The tooltips are what the help (?) says of each key, in bntui's words.
        Binding("q", "quit_claims", "Quit", tooltip="quit; while the battery trains, asks first"),
        Binding("ctrl+c", "quit_claims", "Quit", show=False, priority=True),
        Binding("escape,left,h", "back", "Back", tooltip="from a claim's view back to the list"),
        Binding("n", "step(1)", "Next claim", tooltip="the next claim's view"),
        Binding("N", "step(-1)", "Previous", tooltip="the previous claim's view"),
        Binding(
            "p",
            "pause",
            "Pause",
            tooltip="pause / resume the view (live: the battery trains on; a replay holds)",
        ),
        Binding("e", "end", "End replay", tooltip="replay: jump to the end"),
        Binding(
            "pagedown,space", "scroll_view(1)", "Scroll", show=False, tooltip="scroll the view down"
        ),
        Binding("pageup", "scroll_view(-1)", "Scroll up", show=False, tooltip="scroll the view up"),
        # Pressed while they cannot act, these keys say why (the bindings above come first).
        Binding("escape,left,h", "why_not('back')", show=False),
        Binding("p", "why_not('pause')", show=False),
        Binding("e", "why_not('end')", show=False),
    ]

    opened = var(False)

    def __init__(
        self, header: ClaimsFile, source: Source, inbox: EventInbox[Landed], keep_cells: bool
    ) -> None:
        super().__init__()
        self.view = BatteryView(header, keep_cells)
        self.source = source
        self.inbox = inbox
        self.seconds_left: tuple[float, float] | None = None  # (seconds, read at)
        self.stream_end: StreamEnded | None = None

    def compose(self) -> ComposeResult:
        """Status lines, the list, the selected claim's view, the keys."""
        yield BatteryStatus(id="status")
        yield ClaimList(list(self.view.claims.claims), id="claim-list")
        yield ClaimDetail(self.view.claims.battery_scale, id="claim-detail")
        yield Footer()

    def on_mount(self) -> None:
        """Draw now and then every TICK_S; the list takes the keys."""
        self.query_one(ClaimList).focus()
        self.redraw()
        self.set_interval(TICK_S, self.redraw)

    @property
    def controls(self) -> Controls:
        """The app, as far as the screen drives it."""
        return cast(Controls, self.app)

    # -- what arrives -----------------------------------------------------------------------

    def on_events_pending(self, message: EventsPending) -> None:
        """Take what arrived into the record (unless paused: it waits in the inbox)."""
        if not self.paused:
            self.take_news()

    def on_stream_ended(self, message: StreamEnded) -> None:
        """The stream is over: a live battery that was stopped (or broke) ends as its file
        says, where it was saved."""
        self.stream_end = message
        if not self.paused:
            self.take_news()

    def take_news(self) -> None:
        """Apply what waits in the inbox, then the stream's end if it came; redraw."""
        for landed in self.inbox.take():
            self.land(landed.event)
            if landed.seconds_left is not None:
                self.seconds_left = (landed.seconds_left, landed.at)
        end = self.stream_end
        if end is not None and not self.ended:
            if self.source.live:
                status = end.status or "interrupted"
                self.land(BatteryEnded(status, end.saved, end.warning, self.view.last_t))
            else:
                self.ended = True
                if end.warning:
                    self.flash(end.warning, 30)
        self.redraw()

    def land(self, event: ClaimsEvent) -> None:
        """One event into the record; the battery's end says its message."""
        self.view.apply(event)
        if isinstance(event, BatteryEnded):
            self.ended = True
            if event.message:
                self.flash(event.message, 30)

    def watch_ended(self, ended: bool) -> None:
        """The battery ended: a question about stopping it no longer holds."""
        if ended and isinstance(self.app.screen, ConfirmScreen):
            self.app.screen.dismiss(False)
            self.flash("the battery ended: nothing to stop · q quits", 30)
        self.refresh_bindings()

    def watch_paused(self, paused: bool) -> None:
        """Frozen or live; a replay holds where it is. Unpaused, what arrived meanwhile lands
        (and a battery that ended meanwhile has nothing to pause: the footer drops `p`)."""
        self.controls.pause(paused)
        self.refresh_bindings()
        if paused:
            self.redraw()
        else:
            self.take_news()

    def watch_opened(self, opened: bool) -> None:
        """The claim's view takes the whole screen (and the keys), or gives them back."""
        self.set_class(opened, "-open")
        try:
            if opened:
                self.query_one(ClaimDetail).focus()
            else:
                self.query_one(ClaimList).focus()
        except NoMatches:
            return
        self.refresh_bindings()

    # -- drawing ----------------------------------------------------------------------------

    def mode_word(self) -> str:
        """PAUSED, LIVE, STOPPING, COMPLETED/INTERRUPTED/FAILED, REPLAY ×N or REPLAY END."""
        if self.paused:
            return "PAUSED"
        ended = self.view.ended
        if not self.source.live:
            return "REPLAY END" if ended else f"REPLAY ×{self.source.speed:g}"
        if ended is not None:
            return ended.status.upper()
        return "STOPPING" if self.stopping else "LIVE"

    def time_text(self) -> str:
        """Live: the time left as the runner's ETA predicts it, counting down between
        events; at the end, how long it took. A replay: what the file recorded."""
        ended = self.view.ended
        if ended is not None:
            what = "battery" if self.source.live else "recorded battery"
            return f"{what} {ended.status} after {duration(self.view.last_t)}"
        if not self.source.live:
            return f"replay ×{self.source.speed:g}"
        if self.seconds_left is None:
            return "estimating the time left…"
        seconds, at = self.seconds_left
        return f"about {duration(max(0.0, seconds - (time.monotonic() - at)))} left"

    def path_text(self) -> str:
        """The claims file: where a live battery goes, and how to resume an interrupted one."""
        ended, path = self.view.ended, self.source.path
        if not self.source.live:
            return path
        if ended is None:
            return f"→ {path}"
        saved = ended.path or path
        if ended.status == "interrupted":
            return f"resume: bntui claims --resume {saved}"
        return f"saved {saved}"

    def redraw(self) -> None:
        """Repaint the status lines, the list and the selected claim's view."""
        if not self.is_attached:
            return
        if self.message and time.monotonic() > self.message_until:
            self.message = ""
        try:
            status = self.query_one(BatteryStatus)
            claims = self.query_one(ClaimList)
            detail = self.query_one(ClaimDetail)
        except NoMatches:
            return  # the app is leaving
        status.show(self.view, self.mode_word(), self.time_text(), self.path_text(), self.message)
        claims.show(self.view.found())
        detail.show(self.view.measure(claims.selected))

    def on_claim_list_selected(self, message: ClaimList.Selected) -> None:
        """Another claim was selected: its view follows."""
        self.query_one(ClaimDetail).show(self.view.measure(message.name))

    def on_claim_list_opened(self, message: ClaimList.Opened) -> None:
        """Enter on a claim: its view takes the screen."""
        self.opened = True

    # -- keys -------------------------------------------------------------------------------

    def why_not(self, action: str, parameters: tuple[object, ...]) -> str | None:
        """Why a key cannot act now (it is then hidden; pressing it says this)."""
        if action == "back" and not self.opened:
            return "the list is shown: Enter opens a claim's view, Esc comes back from it"
        if action == "end":
            if self.source.live:
                return "e jumps to the end of a replay, and this battery is not one"
            if self.ended:
                return "the replay is at its end already"
        return super().why_not(action, parameters)

    def action_back(self) -> None:
        """Back from the claim's view to the list."""
        self.opened = False

    def action_step(self, step: int) -> None:
        """The next (or previous) claim's view."""
        self.query_one(ClaimList).action_move(step)

    def action_scroll_view(self, pages: int) -> None:
        """PgDn / PgUp: scroll the claim's view, from the list as from the view."""
        detail = self.query_one(ClaimDetail)
        if pages > 0:
            detail.scroll_page_down(animate=False)
        else:
            detail.scroll_page_up(animate=False)

    def action_end(self) -> None:
        """Replay: jump to the end (once not paused)."""
        self.controls.skip_to_end()

    def action_pause(self) -> None:
        """Freeze or unfreeze the view (a replay holds where it is); a battery trains on."""
        self.paused = not self.paused

    def action_quit_claims(self) -> None:
        """Quit; a battery still training is stopped and saved only after confirming."""
        self.quit_or_ask(self.source.live, QUIT_QUESTION)
