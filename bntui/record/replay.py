"""Replay: re-create a saved run's event stream and deliver it at its recorded pace.

This is the second source of the one event stream: it yields the same event objects a
live run's workers send, so the dashboard cannot tell the difference. No TensorFlow, no
Keras, nothing executed from the file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from bntui.core.events import (
    BatchProgress,
    CallbackNote,
    EpochEnd,
    Event,
    LayerStats,
    ModelDone,
    ModelReady,
    SystemSample,
    TestResult,
)
from bntui.core.metrics import EPOCH_METRICS, STEP_METRICS
from bntui.record.runfile import ModelRun, RunFile


def events_from_run(run: RunFile) -> list[Event]:
    """Rebuild the ordered event stream that produced `run` (the recorder's inverse)."""
    events: list[Event] = []
    for index, entry in enumerate(run.seeds):
        for key, record in entry.models.items():
            for event in _model_events(run, key, record):
                event.seed = index
                events.append(event)
    events.extend(_system_events(run))
    # A stable sort keeps each model's own order (ready, batches, epoch, ..., test, done).
    events.sort(key=lambda e: e.t)
    return events


def _model_events(run: RunFile, key: str, record: ModelRun) -> Iterator[Event]:
    if record.summary is not None:
        yield ModelReady(
            model=key,
            t=record.ready_t or 0.0,
            summary=record.summary.model_dump(),
            environment=run.environment,
            devices=[dict(device) for device in run.devices],
            runs_on=record.runs_on,
            dataset=run.dataset.model_dump() if run.dataset else {},
        )
    curve, history = record.curve, record.history
    epoch_ends = _epoch_end_times(record)
    point = 0
    for epoch, end_t in enumerate(epoch_ends):
        while point < len(curve.t) and curve.epoch[point] <= epoch:
            yield _batch(key, record, point)
            point += 1
        values = {m.name: history.column(m.name)[epoch] for m in EPOCH_METRICS}
        order = record.data_order[epoch] if epoch < len(record.data_order) else ""
        yield EpochEnd(model=key, t=end_t, epoch=epoch, values=values, data_order=order)
    while point < len(curve.t):
        yield _batch(key, record, point)
        point += 1
    yield from _inside_events(key, record)
    for note in record.notes:
        yield CallbackNote(
            model=key, t=note.t, epoch=note.epoch, what=note.what, message=note.message
        )
    end_t = record.finished_t if record.finished_t is not None else run.duration_s
    if record.test is not None:
        test = record.test
        yield TestResult(
            model=key,
            t=end_t,
            loss=test.loss,
            accuracy=test.accuracy,
            confusion_matrix=test.confusion_matrix,
            predictions=[p.model_dump() for p in test.predictions],
            pool_predicted=list(test.pool_predicted),
            pool_confidence=list(test.pool_confidence),
            mistakes=[m.model_dump() for m in test.mistakes],
        )
    if record.status not in ("pending", "running"):
        yield ModelDone(model=key, t=end_t, status=record.status, error=record.error)


def _system_events(run: RunFile) -> Iterator[SystemSample]:
    trace = run.system
    for i, t in enumerate(trace.t):
        workers: dict[str, dict[str, float]] = {}
        gpus: dict[str, dict[str, object]] = {}
        for name, values in trace.series.items():
            owner, _, figure = name.partition(".")
            value = values[i]
            if value is None:
                continue
            if owner in trace.gpu_names:
                gpus.setdefault(
                    owner, {"index": int(owner[3:] or 0), "name": trace.gpu_names[owner]}
                )[figure] = value
            else:
                workers.setdefault(owner, {})[figure] = value
        yield SystemSample(model="system", t=t, workers=workers, gpus=list(gpus.values()))


def _inside_events(key: str, record: ModelRun) -> Iterator[LayerStats]:
    """The layer statistics; the caller's sort by time puts them among the curve points."""
    inside = record.inside
    for i, (position, t) in enumerate(zip(inside.position, inside.t)):
        yield LayerStats(
            model=key,
            t=t,
            position=position,
            layers=[
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "units": layer.units,
                    **{stat: values[i] for stat, values in layer.stats.items()},
                }
                for layer in inside.layers
            ],
        )


def _batch(key: str, record: ModelRun, i: int) -> BatchProgress:
    c = record.curve
    return BatchProgress(
        model=key,
        t=c.t[i],
        epoch=c.epoch[i],
        step=c.step[i],
        steps=c.steps[i],
        values={m.name: c.column(m.name)[i] for m in STEP_METRICS},
    )


def _epoch_end_times(record: ModelRun) -> list[float]:
    """When each epoch ended: its last curve point's time, else spread over the run."""
    last_point: dict[int, float] = {}
    for t, epoch in zip(record.curve.t, record.curve.epoch):
        last_point[epoch] = t
    times: list[float] = []
    elapsed = record.ready_t or 0.0
    for epoch, seconds in enumerate(record.history.column("epoch_time_s")):
        elapsed += seconds or 0.0
        times.append(max(last_point.get(epoch, elapsed), elapsed))
    return times


class Timed(Protocol):
    """What replay needs of an event: when it happened, in seconds from the start."""

    @property
    def t(self) -> float: ...


E = TypeVar("E", bound=Timed)


class ReplaySource(Generic[E]):
    """Yields recorded events in order, sleeping to keep the recorded pace / `speed`: a run's
    (`replay_events`) or a battery's (`bntui.claims.replay`).

    From any thread: `skip_to_end()` makes the rest come at once, `stop()` ends it (nothing
    more is yielded), `pause(True)` holds it where it is (the time paused does not count).
    """

    def __init__(self, events: list[E], speed: float = 1.0) -> None:
        self.speed = speed
        self.events = events
        self._skip = threading.Event()
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()

    def skip_to_end(self) -> None:
        """Deliver every remaining event without waiting."""
        self._skip.set()

    def stop(self) -> None:
        """End the iteration early."""
        self._stop.set()
        self._skip.set()
        self._running.set()

    def pause(self, paused: bool) -> None:
        """Hold the replay where it is (True), or go on from there (False)."""
        if paused:
            self._running.clear()
        else:
            self._running.set()

    def __iter__(self) -> Iterator[E]:
        begin = time.monotonic()
        # Start at the first event: the seconds spent importing Keras are not worth re-enacting.
        origin = self.events[0].t if self.events else 0.0
        for event in self.events:
            if self._stop.is_set():
                return
            while True:
                if not self._running.is_set():
                    held = time.monotonic()
                    self._running.wait()
                    begin += time.monotonic() - held  # the pause does not count
                due = begin + (event.t - origin) / self.speed
                delay = due - time.monotonic()
                if delay <= 0 or self._skip.is_set():
                    break
                self._skip.wait(min(delay, 0.2))  # short waits, so a pause takes hold
            yield event
