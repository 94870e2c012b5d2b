"""Messages the dashboard receives from the thread that reads the session's event stream."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class EventsPending(Message):
    """New events wait in the inbox. A newer notice makes an older one redundant: whichever
    is handled takes every event that has arrived, so a fast stream cannot flood the UI."""

    def can_replace(self, message: Message) -> bool:
        """Any earlier notice still queued says nothing this one does not."""
        return isinstance(message, EventsPending)


@dataclass
class StreamEnded(Message):
    """The stream is over (and a live run saved: `saved` says where, `warning` why not
    where it was asked)."""

    saved: str | None = None
    warning: str | None = None
