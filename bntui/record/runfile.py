"""The run file: a typed, versioned JSON document, validated on load, written atomically.

Each model's `history` is in Keras' own shape (a dict of equal-length lists) so that
`pandas.DataFrame(run["models"]["bn"]["history"])` works without bntui. Non-finite
numbers (NaN, ±inf) are written as JSON `null`.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bntui.core.spec import MAX_EPOCHS, MAX_SEED, MAX_SEEDS, ExperimentSpec
from bntui.core.text import clean
from bntui.record.bounds import (
    MAX_CLASSES,
    MAX_CURVE_POINTS,
    MAX_POOL,
    MAX_SAMPLES,
    ClassIndex,
    Count,
    DeviceEntry,
    Duration,
    Environment,
    EpochIndex,
    GpuTag,
    Image,
    Label,
    Message,
    Name,
    Probability,
    Reading,
    Seconds,
    SeriesName,
    check_spec,
)
from bntui.record.columns import Curve, History, Inside, Number
from bntui.record.files import Document, FileModel, RunFileError, parse_as, read_bytes

# 2 added each model's `inside` (layer statistics) and `notes` (callbacks), and the run's
# `system` (live load); version 1 files load with them empty.
# 3 holds the pair once per seed: `seeds: [{"seed": 42, "models": {...}}, ...]` instead of
# the run's `models`, and each model's `data_order`; older files load as their one seed.
SCHEMA_VERSION = 4
# Re-exported: the schema's bounds, and the error of a file that is not a valid run.
__all__ = ["MAX_CURVE_POINTS", "MAX_EPOCHS", "RunFileError"]

RunStatus = Literal["running", "completed", "interrupted", "failed"]
ModelStatus = Literal["pending", "running", "completed", "diverged", "interrupted", "failed"]


class LayerSummary(FileModel):
    """One row of `model.summary()`."""

    name: Name
    type: Name
    output_shape: Name
    params: Count
    trainable_params: Count


class ModelSummary(FileModel):
    """What `model.summary()` prints: layers and parameter counts."""

    layers: list[LayerSummary] = Field(default_factory=list, max_length=1000)
    total_params: Count
    trainable_params: Count
    non_trainable_params: Count


class Prediction(FileModel):
    """A model's prediction for one of the sample test images."""

    index: Count
    label: ClassIndex
    predicted: ClassIndex
    probabilities: list[Probability | None] = Field(max_length=MAX_CLASSES)


class Mistake(Prediction):
    """A test image the model got wrong, with its pixels (it need not be a sample)."""

    image: Image


class TestResults(FileModel):
    """Test loss/accuracy, confusion matrix (rows: true, columns: predicted), samples; since
    schema 4 also the predicted class (and its probability) of each of the test set's first
    `POOL_SIZE` images, and the model's first mistakes among them, with their images."""

    __test__ = False
    loss: Number = None
    accuracy: Number = None
    confusion_matrix: list[list[Count]] = Field(default_factory=list, max_length=MAX_CLASSES)
    predictions: list[Prediction] = Field(default_factory=list, max_length=MAX_SAMPLES)
    pool_predicted: list[ClassIndex] = Field(default_factory=list, max_length=MAX_POOL)
    pool_confidence: list[Probability] = Field(default_factory=list, max_length=MAX_POOL)
    mistakes: list[Mistake] = Field(default_factory=list, max_length=MAX_SAMPLES)


class Note(FileModel):
    """A callback's action during training (early stopping, a checkpoint saved)."""

    t: Seconds
    epoch: EpochIndex
    what: Label
    message: Message


class ModelRun(FileModel):
    """Everything recorded for one model (`plain` or `bn`)."""

    status: ModelStatus = "pending"
    error: Message | None = None
    runs_on: Name = ""
    ready_t: Seconds | None = None
    finished_t: Seconds | None = None
    summary: ModelSummary | None = None
    history: History = Field(default_factory=History)
    curve: Curve = Field(default_factory=Curve)
    inside: Inside = Field(default_factory=Inside)
    notes: list[Note] = Field(default_factory=list, max_length=MAX_EPOCHS)
    test: TestResults | None = None
    # A digest of each epoch's order of training images, where bntui chose it (multi-seed
    # runs): the same seed of both models must show the same digests.
    data_order: list[Label] = Field(default_factory=list, max_length=MAX_EPOCHS)


def new_pair() -> dict[str, ModelRun]:
    """An empty record for each model of the pair."""
    return {"plain": ModelRun(), "bn": ModelRun()}


class SeedRun(FileModel):
    """Both models trained from one seed: seed k of the plain model and of the BN model saw
    the same data in the same order; only the model differs."""

    seed: int = Field(ge=0, le=MAX_SEED)
    models: dict[Label, ModelRun] = Field(default_factory=new_pair)

    @model_validator(mode="after")
    def _both_models(self) -> SeedRun:
        if set(self.models) != {"plain", "bn"}:
            names = ", ".join(repr(clean(name, 20)) for name in sorted(self.models)[:4])
            raise ValueError(f"models must be exactly 'plain' and 'bn', got {names}")
        return self


class SystemTrace(FileModel):
    """Live load over the run, about once a second: `series["plain.cpu_pct"]`,
    `series["bn.rss_mb"]`, `series["gpu0.util_pct"]`, ... each with one value per `t`."""

    t: list[Seconds] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    series: dict[SeriesName, list[Reading | None]] = Field(default_factory=dict, max_length=256)
    gpu_names: dict[GpuTag, Name] = Field(default_factory=dict, max_length=64)

    @model_validator(mode="after")
    def _one_value_per_sample(self) -> SystemTrace:
        for name, values in self.series.items():
            if len(values) != len(self.t):
                raise ValueError(f"{name} has {len(values)} values for {len(self.t)} samples")
        return self


class DatasetInfo(FileModel):
    """The data the pair trained on, with the sample test images shown in predictions."""

    name: Label
    class_names: list[Name] = Field(min_length=1, max_length=MAX_CLASSES)
    train_size: Count
    validation_size: Count
    test_size: Count
    sample_indices: list[Count] = Field(default_factory=list, max_length=MAX_SAMPLES)
    sample_labels: list[ClassIndex] = Field(default_factory=list, max_length=MAX_SAMPLES)
    sample_images: list[Image] = Field(default_factory=list, max_length=MAX_SAMPLES)

    @model_validator(mode="after")
    def _samples_agree(self) -> DatasetInfo:
        check_dataset(self)
        return self


class RunFile(Document):
    """One bntui run: spec, environment, devices, and both models' records for each seed.

    `seeds[k].models["bn"].history` is seed k's Keras History of the BN model, so
    `pandas.DataFrame(run["seeds"][k]["models"]["bn"]["history"])` is one seed's table.
    """

    newest_schema: ClassVar[int] = SCHEMA_VERSION
    kind: Literal["run"] = "run"  # files before `kind` say nothing: they are run files
    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)
    status: RunStatus = "running"
    error: Message | None = None
    started_at: Label = ""
    duration_s: Duration = 0.0
    spec: ExperimentSpec = Field(default_factory=ExperimentSpec)
    environment: Environment = Field(default_factory=dict, max_length=64)
    devices: list[DeviceEntry] = Field(default_factory=list, max_length=64)
    dataset: DatasetInfo | None = None
    system: SystemTrace = Field(default_factory=SystemTrace)
    seeds: list[SeedRun] = Field(min_length=1, max_length=MAX_SEEDS)

    @model_validator(mode="before")
    @classmethod
    def _one_seed_files(cls, data: Any) -> Any:
        # Before schema 3 a file held one seed's pair as the run's `models`; a run made
        # here without `seeds` gets one empty pair per seed of its spec.
        if not isinstance(data, dict) or "seeds" in data:
            return data
        spec = data.get("spec")
        if "models" in data:
            seed = spec.get("seed", 42) if isinstance(spec, dict) else getattr(spec, "seed", 42)
            rest = {k: v for k, v in data.items() if k != "models"}
            return {**rest, "seeds": [{"seed": seed, "models": data["models"]}]}
        values = spec.seed_values if isinstance(spec, ExperimentSpec) else [42]
        return {**data, "seeds": [{"seed": seed} for seed in values]}

    @field_validator("spec")
    @classmethod
    def _runnable_spec(cls, spec: ExperimentSpec) -> ExperimentSpec:
        return check_spec(spec)

    @model_validator(mode="after")
    def _seeds_of_the_spec(self) -> RunFile:
        found = [entry.seed for entry in self.seeds]
        if found != self.spec.seed_values:
            raise ValueError(
                f"seeds must be the spec's {self.spec.seeds} seed(s) from {self.spec.seed} on, "
                f"got {found[:4]}{' …' if len(found) > 4 else ''}"
            )
        check_run(self)
        return self

    @property
    def models(self) -> dict[str, ModelRun]:
        """The first seed's pair: what one-seed views show."""
        return self.seeds[0].models

    def pair(self, seed_index: int) -> dict[str, ModelRun]:
        """Both models' records for seed `seed_index` (0 = the first seed)."""
        return self.seeds[seed_index].models

    def records(self, key: str) -> list[ModelRun]:
        """Model `key`'s record for each seed, in seed order."""
        return [entry.models[key] for entry in self.seeds]


def load_run(path: str | os.PathLike[str]) -> RunFile:
    """Read and validate a run file, or raise RunFileError with one clear message."""
    return parse_run(read_bytes(path), str(path))


def parse_run(raw: bytes, name: str = "run file") -> RunFile:
    """Validate the bytes of a run file; raise RunFileError saying what is wrong."""
    return parse_as(raw, name, RunFile)


def check_dataset(data: DatasetInfo) -> None:
    """The sample images, their indices and labels go together, labels name a class."""
    lengths = {len(data.sample_indices), len(data.sample_labels), len(data.sample_images)}
    if len(lengths) > 1:
        raise ValueError(
            f"sample_indices, sample_labels and sample_images must have equal lengths, got "
            f"{len(data.sample_indices)}, {len(data.sample_labels)}, {len(data.sample_images)}"
        )
    if any(label >= len(data.class_names) for label in data.sample_labels):
        raise ValueError(f"a sample label is not one of the {len(data.class_names)} classes")


def check_test(test: TestResults, classes: int | None, where: str) -> None:
    """A square confusion matrix over the dataset's classes; predictions of those classes."""
    matrix = test.confusion_matrix
    if any(len(row) != len(matrix) for row in matrix):
        raise ValueError(f"{where}.confusion_matrix must be square")
    if matrix and classes is not None and len(matrix) != classes:
        raise ValueError(
            f"{where}.confusion_matrix has {len(matrix)} rows for {classes} class names"
        )
    limit = classes if classes is not None else MAX_CLASSES
    if test.pool_confidence and len(test.pool_confidence) != len(test.pool_predicted):
        raise ValueError(f"{where}.pool_confidence and pool_predicted differ in length")
    if any(c >= limit for c in test.pool_predicted):
        raise ValueError(f"{where}.pool_predicted: a class beyond the {limit} classes")
    for p in [*test.predictions, *test.mistakes]:
        if p.label >= limit or p.predicted >= limit:
            raise ValueError(f"{where}.predictions: a class beyond the {limit} classes")
        if classes is not None and len(p.probabilities) != classes:
            raise ValueError(
                f"{where}.predictions: {len(p.probabilities)} probabilities for {classes} classes"
            )


def check_run(run: RunFile) -> None:
    """Everything recorded fits the spec: no epoch beyond `spec.epochs`, test results over
    the dataset's classes. (A curve point's step, and so a measurement's position, may pass
    the end of its epoch: fused groups of steps overshoot the last one; real files do.)"""
    epochs = run.spec.epochs
    classes = len(run.dataset.class_names) if run.dataset else None
    for index, entry in enumerate(run.seeds):
        for key, model in entry.models.items():
            check_model(model, epochs, classes, f"seeds.{index}.models.{key}")


def check_model(model: ModelRun, epochs: int, classes: int | None, where: str) -> None:
    """One model's record of one seed fits the spec (see `check_run`)."""
    recorded = len(model.history.column("loss"))
    if recorded > epochs:
        raise ValueError(f"{where}.history has {recorded} epochs; spec.epochs is {epochs}")
    curve = model.curve
    if curve.epoch and max(curve.epoch) >= epochs:
        raise ValueError(f"{where}.curve has an epoch beyond spec.epochs ({epochs})")
    # A fused group of steps may end past the last step, never a whole epoch past it.
    if model.inside.position and max(model.inside.position) > epochs + 1:
        raise ValueError(f"{where}.inside has a position beyond spec.epochs ({epochs})")
    if any(note.epoch >= epochs for note in model.notes):
        raise ValueError(f"{where}.notes has an epoch beyond spec.epochs ({epochs})")
    if model.test is not None:
        check_test(model.test, classes, f"{where}.test")
