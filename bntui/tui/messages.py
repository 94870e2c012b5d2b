"""Messages a screen receives from the thread that reads its app's event stream (a run's or
a battery's: the same two messages for both)."""

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
    """The stream is over (and a live stream saved: `saved` says where, `warning` why not
    where it was asked or what went wrong, `status` what the file says)."""

    saved: str | None = None
    warning: str | None = None
    status: str | None = None
