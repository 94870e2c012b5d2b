"""The event stream: small dataclasses that workers emit and replay re-creates.

Live workers write these as JSON lines; replay rebuilds them from a run file. Either way
the dashboard and the headless printer consume the same objects. `t` is seconds since
the run started.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bntui.core.text import UNSAFE, clean, clean_tree

# A worker started with this word instead of a job waits for its job on stdin, one JSON
# line (bntui.procs.prestart: workers spawned before bntui's command line is parsed).
AWAIT_JOB = "--await-job"


@dataclass
class Event:
    """Base of every event; `kind` names the JSON `type` field."""

    kind: ClassVar[str] = "event"
    model: str
    t: float
    # Which run of a sweep the event belongs to (0 for a single run).
    run_index: int = 0
    # Which seed of the model (an index into `spec.seed_values`; 0 for a one-seed run).
    seed: int = 0

    def __post_init__(self) -> None:
        # Whoever made the event (a worker's JSON line, a file, bntui itself), its text is
        # cleaned here, once: no raw control or bidi character reaches the record.
        fields = self.__dict__
        for name in _text_fields(type(self)):
            value = fields[name]
            if isinstance(value, str):
                if UNSAFE.search(value):  # the common case, a clean string, costs one search
                    fields[name] = clean(value, None)
            elif isinstance(value, (dict, list)) and value:
                fields[name] = clean_tree(value)

    def to_json(self) -> str:
        """Encode as one strict-JSON line (non-finite floats become null).

        The fields hold plain JSON values (no nested dataclasses), so they are encoded as
        they are; only a line with a NaN or an infinity is rebuilt by `finite`. A deep copy
        first (`dataclasses.asdict`) took 5 ms for each worker's ready and test events, at
        the start and the end of the run's critical path (`bench/RESULTS.md`, round 19)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        try:
            return json.dumps({"type": self.kind, **fields}, allow_nan=False)
        except ValueError:  # a non-finite float somewhere
            return json.dumps({"type": self.kind, **finite(fields)}, allow_nan=False)


_TEXT_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def _text_fields(cls: type[Event]) -> tuple[str, ...]:
    """The fields of an event class that may hold text (str, dict or list); found once."""
    found = _TEXT_FIELDS.get(cls)
    if found is None:
        found = tuple(
            f.name for f in dataclasses.fields(cls) if any(t in str(f.type) for t in TEXT_TYPES)
        )
        _TEXT_FIELDS[cls] = found
    return found


TEXT_TYPES = ("str", "dict", "list", "Any")


@dataclass
class ModelReady(Event):
    """A worker built its model: summary, backend, devices and the dataset it loaded."""

    kind: ClassVar[str] = "ready"
    summary: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    runs_on: str = ""
    dataset: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchProgress(Event):
    """A curve point part-way through an epoch: where it is, and the value of each
    `bntui.core.metrics.STEP_METRICS` metric there (by name)."""

    kind: ClassVar[str] = "batch"
    epoch: int = 0
    step: int = 0
    steps: int = 0
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass
class EpochEnd(Event):
    """An epoch finished: the value of each `bntui.core.metrics.EPOCH_METRICS` metric (Keras'
    logs and the epoch's wall time), by name. `data_order` is a digest of the order the
    epoch's training images came in, where bntui chose it (multi-seed runs), so that the
    pairing of seeds across the two models can be checked."""

    kind: ClassVar[str] = "epoch"
    epoch: int = 0
    values: dict[str, float | None] = field(default_factory=dict)
    data_order: str = ""


# What LayerStats measures for each kind of layer (see bntui.training.probe for the definitions).
DENSE_STATS = ("in_mean", "in_std", "pre_mean", "pre_std", "dead", "grad_norm")
BN_STATS = (
    "gamma_mean",
    "gamma_std",
    "beta_mean",
    "beta_std",
    "moving_mean",
    "moving_var",
    "batch_shift",
    "batch_var_ratio",
)
LAYER_STATS = {"dense": DENSE_STATS, "bn": BN_STATS}


@dataclass
class LayerStats(Event):
    """Inside the network: statistics of each Dense/BN layer on the probe batch.

    `position` is the fractional epoch (0.0 = before training, 1.5 = half-way through the
    second epoch); each layer is a dict with `name`, `kind` (`dense`/`bn`) and its numbers.
    """

    kind: ClassVar[str] = "inside"
    position: float = 0.0
    layers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CallbackNote(Event):
    """A Keras callback acted: EarlyStopping stopped training, ModelCheckpoint saved."""

    kind: ClassVar[str] = "note"
    epoch: int = 0
    what: str = ""  # "early_stopping" or "checkpoint"
    message: str = ""


@dataclass
class SystemSample(Event):
    """Live load, sampled by bntui itself (`model` is "system"): each worker's CPU % and
    RSS, and each GPU's utilization, memory and temperature when NVML is there."""

    kind: ClassVar[str] = "system"
    workers: dict[str, dict[str, float]] = field(default_factory=dict)
    gpus: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TestResult(Event):
    """Test-set evaluation, confusion matrix and sample predictions after training."""

    __test__ = False  # not a pytest test class
    kind: ClassVar[str] = "test"
    loss: float | None = None
    accuracy: float | None = None
    confusion_matrix: list[list[int]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    # The predicted class and its probability for each of the test set's first images (the
    # pool), and this model's first mistakes among them with their images (schema 4).
    pool_predicted: list[int] = field(default_factory=list)
    pool_confidence: list[float] = field(default_factory=list)
    mistakes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ModelDone(Event):
    """A model's training ended: completed, diverged, interrupted or failed (with the error)."""

    kind: ClassVar[str] = "done"
    status: str = "completed"
    error: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        ModelReady,
        BatchProgress,
        EpochEnd,
        LayerStats,
        CallbackNote,
        TestResult,
        ModelDone,
    )
}


class EventError(ValueError):
    """A line from a worker that is not a valid event."""


def parse_event(line: str) -> Event:
    """Decode one JSON line into its event class; raise EventError if it is not one."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise EventError(f"not JSON: {line[:80]!r}") from exc
    if not isinstance(data, dict) or data.get("type") not in EVENT_TYPES:
        raise EventError(f"unknown event: {line[:80]!r}")
    cls = EVENT_TYPES[data.pop("type")]
    try:
        return cls(**data)
    except TypeError as exc:
        raise EventError(f"bad {cls.kind} event: {exc}") from exc


def finite(value: Any) -> Any:
    """Return `value` with every NaN/inf float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
