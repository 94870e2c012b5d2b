"""The column tables of a model's record: `history` (per epoch, Keras' History shape),
`curve` (within epochs) and `inside` (layer statistics), one column per declared metric."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from bntui.core.metrics import EPOCH_METRICS, STEP_METRICS
from bntui.core.metrics import Metric as MetricDeclaration
from bntui.core.spec import MAX_EPOCHS
from bntui.record.bounds import (
    MAX_CURVE_POINTS,
    Count,
    Duration,  # noqa: F401 (named in declare_columns' annotations)
    EpochIndex,
    Metric,
    Name,
    Position,
    Positive,
    Seconds,
    StatName,
)
from bntui.record.files import FileModel

Number = Metric | None


class _EqualLengthLists(FileModel):
    """A dict of equal-length lists, as Keras' History.history is."""

    def column(self, name: str) -> list[Any]:
        """The list named `name` (a declared metric's values)."""
        values = getattr(self, name)
        assert isinstance(values, list)
        return values

    @model_validator(mode="after")
    def _same_length(self) -> _EqualLengthLists:
        lengths = {name: len(v) for name, v in self if isinstance(v, list)}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"lists must have equal lengths, got {lengths}")
        return self


def declare_columns(
    namespace: dict[str, Any], metrics: tuple[MetricDeclaration, ...], max_length: int
) -> None:
    """In a model's class body: one list field per declared metric (seconds for a metric
    with a unit, a finite number or null otherwise)."""
    annotations = namespace.setdefault("__annotations__", {})
    for metric in metrics:
        annotations[metric.name] = "list[Duration | None]" if metric.unit else "list[Number]"
        namespace[metric.name] = Field(default_factory=list, max_length=max_length)


class History(_EqualLengthLists):
    """Per-epoch metrics: Keras' History.history plus each epoch's wall time, one column per
    `bntui.core.metrics.EPOCH_METRICS` declaration."""

    # One column per declared metric: declaring a metric is all it takes to add one.
    declare_columns(locals(), EPOCH_METRICS, MAX_EPOCHS)

    @model_validator(mode="before")
    @classmethod
    def _older_files(cls, data: Any) -> Any:
        return with_missing_columns(data, EPOCH_METRICS, "loss")


class Curve(_EqualLengthLists):
    """The intra-epoch training curve with timestamps: what replay re-enacts. Besides where
    and when each point is, one column per `bntui.core.metrics.STEP_METRICS` declaration."""

    t: list[Seconds] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    epoch: list[EpochIndex] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    step: list[Count] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    steps: list[Positive] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    declare_columns(locals(), STEP_METRICS, MAX_CURVE_POINTS)

    @model_validator(mode="before")
    @classmethod
    def _older_files(cls, data: Any) -> Any:
        return with_missing_columns(data, STEP_METRICS, "t")


def with_missing_columns(data: Any, metrics: tuple[MetricDeclaration, ...], anchor: str) -> Any:
    """A file from before a metric was declared has no column for it: no value (null) at
    each of its points, so that its lists stay of equal length."""
    if isinstance(data, dict) and isinstance(data.get(anchor), list):
        n = len(data[anchor])
        missing = {m.name: [None] * n for m in metrics if m.name not in data}
        if missing:
            return {**data, **missing}
    return data


class LayerTrace(FileModel):
    """One layer's statistics over training: `stats[name][i]` was measured at point i."""

    name: Name
    kind: Literal["dense", "bn"]
    units: Count = 0
    stats: dict[StatName, list[Number]] = Field(default_factory=dict, max_length=32)


class Inside(FileModel):
    """Layer statistics on the fixed probe batch, several times per epoch.

    `position` is the fractional epoch of each measurement (0.0 = before training) and `t`
    its time; every list in every layer's `stats` has one value per measurement.
    """

    position: list[Position] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    t: list[Seconds] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    layers: list[LayerTrace] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _one_value_per_point(self) -> Inside:
        n = len(self.position)
        if len(self.t) != n:
            raise ValueError(f"position and t must have equal lengths, got {n} and {len(self.t)}")
        for layer in self.layers:
            for stat, values in layer.stats.items():
                if len(values) != n:
                    raise ValueError(
                        f"{layer.name}.{stat} has {len(values)} values for {n} measurements"
                    )
        return self
