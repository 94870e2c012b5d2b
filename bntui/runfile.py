"""The run file: a typed, versioned JSON document, validated on load, written atomically.

Each model's `history` is in Keras' own shape (a dict of equal-length lists) so that
`pandas.DataFrame(run["models"]["bn"]["history"])` works without bntui. Non-finite
numbers (NaN, ±inf) are written as JSON `null`.
"""

from __future__ import annotations

import json
import math
import os
import stat as st
import tempfile
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bntui import __version__
from bntui.bounds import (
    MAX_CLASSES,
    MAX_CURVE_POINTS,
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
    Metric,
    Name,
    Position,
    Positive,
    Probability,
    Reading,
    Seconds,
    SeriesName,
    StatName,
    check_dataset,
    check_run,
    check_spec,
)
from bntui.spec import MAX_EPOCHS, ExperimentSpec
from bntui.text import clean, clean_tree, no_surrogates

# 2 added each model's `inside` (layer statistics) and `notes` (callbacks), and the run's
# `system` (live load); version 1 files load with them empty.
SCHEMA_VERSION = 2
MAX_FILE_BYTES = 256 * 1024 * 1024
__all__ = ["MAX_CURVE_POINTS", "MAX_EPOCHS"]  # re-exported: the schema's bounds

RunStatus = Literal["running", "completed", "interrupted", "failed"]
ModelStatus = Literal["pending", "running", "completed", "diverged", "interrupted", "failed"]
Number = Metric | None


class _Model(BaseModel):
    # Unknown keys from a newer minor version are tolerated and dropped. No float may be
    # infinite or NaN (JSON has neither; bntui writes null).
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class _EqualLengthLists(_Model):
    """A dict of equal-length lists, as Keras' History.history is."""

    @model_validator(mode="after")
    def _same_length(self) -> _EqualLengthLists:
        lengths = {name: len(v) for name, v in self if isinstance(v, list)}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"lists must have equal lengths, got {lengths}")
        return self


class History(_EqualLengthLists):
    """Per-epoch metrics: Keras' History.history plus each epoch's wall time."""

    loss: list[Number] = Field(default_factory=list, max_length=MAX_EPOCHS)
    accuracy: list[Number] = Field(default_factory=list, max_length=MAX_EPOCHS)
    val_loss: list[Number] = Field(default_factory=list, max_length=MAX_EPOCHS)
    val_accuracy: list[Number] = Field(default_factory=list, max_length=MAX_EPOCHS)
    epoch_time_s: list[Duration | None] = Field(default_factory=list, max_length=MAX_EPOCHS)


class Curve(_EqualLengthLists):
    """The intra-epoch training curve with timestamps: what replay re-enacts."""

    t: list[Seconds] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    epoch: list[EpochIndex] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    step: list[Count] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    steps: list[Positive] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    loss: list[Number] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)
    accuracy: list[Number] = Field(default_factory=list, max_length=MAX_CURVE_POINTS)


class LayerTrace(_Model):
    """One layer's statistics over training: `stats[name][i]` was measured at point i."""

    name: Name
    kind: Literal["dense", "bn"]
    units: Count = 0
    stats: dict[StatName, list[Number]] = Field(default_factory=dict, max_length=32)


class Inside(_Model):
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


class LayerSummary(_Model):
    """One row of `model.summary()`."""

    name: Name
    type: Name
    output_shape: Name
    params: Count
    trainable_params: Count


class ModelSummary(_Model):
    """What `model.summary()` prints: layers and parameter counts."""

    layers: list[LayerSummary] = Field(default_factory=list, max_length=1000)
    total_params: Count
    trainable_params: Count
    non_trainable_params: Count


class Prediction(_Model):
    """A model's prediction for one of the sample test images."""

    index: Count
    label: ClassIndex
    predicted: ClassIndex
    probabilities: list[Probability | None] = Field(max_length=MAX_CLASSES)


class TestResults(_Model):
    """Test loss/accuracy, confusion matrix (rows: true, columns: predicted), samples."""

    __test__ = False
    loss: Number = None
    accuracy: Number = None
    confusion_matrix: list[list[Count]] = Field(default_factory=list, max_length=MAX_CLASSES)
    predictions: list[Prediction] = Field(default_factory=list, max_length=MAX_SAMPLES)


class Note(_Model):
    """A callback's action during training (early stopping, a checkpoint saved)."""

    t: Seconds
    epoch: EpochIndex
    what: Label
    message: Message


class ModelRun(_Model):
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


class SystemTrace(_Model):
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


class DatasetInfo(_Model):
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


class RunFile(_Model):
    """One bntui run: spec, environment, devices, and both models' records."""

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)
    bntui_version: Label = __version__
    status: RunStatus = "running"
    error: Message | None = None
    started_at: Label = ""
    duration_s: Duration = 0.0
    spec: ExperimentSpec = Field(default_factory=ExperimentSpec)
    environment: Environment = Field(default_factory=dict, max_length=64)
    devices: list[DeviceEntry] = Field(default_factory=list, max_length=64)
    dataset: DatasetInfo | None = None
    system: SystemTrace = Field(default_factory=SystemTrace)
    models: dict[Label, ModelRun] = Field(
        default_factory=lambda: {"plain": ModelRun(), "bn": ModelRun()}
    )

    @field_validator("spec")
    @classmethod
    def _runnable_spec(cls, spec: ExperimentSpec) -> ExperimentSpec:
        return check_spec(spec)

    @model_validator(mode="after")
    def _both_models(self) -> RunFile:
        if set(self.models) != {"plain", "bn"}:
            names = ", ".join(repr(clean(name, 20)) for name in sorted(self.models)[:4])
            raise ValueError(f"models must be exactly 'plain' and 'bn', got {names}")
        check_run(self)
        return self

    def to_json(self) -> str:
        """Serialize as strict, indented JSON (non-finite numbers become null)."""
        return self.model_dump_json(indent=1)


class RunFileError(Exception):
    """A run file that cannot be read; the message is meant for the user as is (cleaned:
    it quotes the file's name and may quote the file)."""

    def __init__(self, message: str) -> None:
        super().__init__(clean(message, None))


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as infinity
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _kind(mode: int) -> str:
    if st.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if st.S_ISCHR(mode) or st.S_ISBLK(mode):
        return "a device"
    if st.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> bytes:
    """A run or sweep file's bytes, or RunFileError with one clear message.

    Only a regular file (after following symlinks) is read, and never more than `limit`
    bytes whatever its size claims: a FIFO, a device such as /dev/zero or a socket is
    refused at once. O_NONBLOCK keeps the open itself from waiting for a FIFO's writer.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if st.S_ISDIR(mode):
            raise RunFileError(f"{path} is a folder, not a run file")
        if not st.S_ISREG(mode):
            raise RunFileError(f"{path} is {_kind(mode)}; bntui reads only regular files")
        size = os.fstat(fd).st_size
        if size > limit:
            raise RunFileError(
                f"{path} is {size / 2**20:,.0f} MiB; run files over {limit // 2**20} MiB are "
                "refused"
            )
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # the size may lie (a file still growing, /proc)
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise RunFileError(f"{path} is over {limit // 2**20} MiB; run files are refused")
        return b"".join(chunks)
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def load_run(path: str | os.PathLike[str]) -> RunFile:
    """Read and validate a run file, or raise RunFileError with one clear message."""
    return parse_run(read_bytes(path), str(path))


def decode(raw: bytes, name: str) -> dict[str, Any]:
    """Strict JSON bytes → a dict with a whole-number `schema_version`, or RunFileError."""
    if not raw.strip():
        raise RunFileError(f"{name} is empty")
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except UnicodeDecodeError:
        raise RunFileError(f"{name} is not text (not UTF-8)") from None
    except RecursionError:
        raise RunFileError(f"{name} is nested too deeply to be a run file") from None
    except ValueError as exc:
        raise RunFileError(f"{name} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise RunFileError(f"{name} is not a bntui run file (no schema_version)")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise RunFileError(f"{name}: schema_version must be a whole number")
    return data


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any], name: str, newest: int, what: str) -> M:
    """Validate decoded data as `model` (a `what`, schema up to `newest`) or raise
    RunFileError."""
    version = data["schema_version"]
    if version > newest:
        writer = clean(data.get("bntui_version", "a newer version"), 40)
        raise RunFileError(
            f"{name} has schema_version {version}, written by bntui {writer!r}; this bntui "
            f"({__version__}) reads up to schema {newest}. Upgrade bntui to replay it."
        )
    try:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            if not any(e["type"] == "string_unicode" for e in exc.errors()):
                raise
        # A lone surrogate (a legal JSON escape, not Unicode) where pydantic must read the
        # string itself (a pattern, a Literal): it becomes U+FFFD, and the field is judged on
        # the rest. Elsewhere the surrogate reaches `clean` and becomes a mark.
        return model.model_validate(clean_tree(data, 64, no_surrogates))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        # The location may hold keys from the file: cleaned like any text from it.
        where = clean(".".join(str(part) for part in first["loc"]) or "top level", 200)
        message = clean(first["msg"].removeprefix("Value error, "), 300)
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise RunFileError(f"{name} is not a valid {what}: {where}: {message}{more}") from None
    except RecursionError:
        raise RunFileError(f"{name} is nested too deeply to be a run file") from None


def parse_run(raw: bytes, name: str = "run file") -> RunFile:
    """Validate the bytes of a run file; raise RunFileError saying what is wrong."""
    data = decode(raw, name)
    if data.get("kind") == "sweep":
        raise RunFileError(f"{name} is a sweep file; `bntui replay` shows it")
    return validate(RunFile, data, name, SCHEMA_VERSION, "run file")


def write_atomic(text: str, path: Path, *, overwrite: bool) -> None:
    """Write `text` to `path` via a temp file in the same folder: never a half-written file.

    Without `overwrite`, an existing file is never replaced (FileExistsError).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a run file is an ordinary file
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists, unlike rename
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def fallback_dir() -> Path:
    """Where a run goes when its chosen path cannot be written."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "bntui" / "runs"


class Document(Protocol):
    """A run or sweep file model: anything that serializes itself to JSON."""

    def to_json(self) -> str:
        """Strict JSON text."""
        ...


def save_run(run: Document, path: Path, *, overwrite: bool = False) -> tuple[Path, str | None]:
    """Save `run` to `path`, or to a fallback path if that fails; nothing is lost.

    Returns the path written and, when it is not `path`, a message saying why.
    """
    text = run.to_json()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(text, path, overwrite=overwrite)
        return path, None
    except OSError as exc:
        reason = f"could not write {path} ({exc.strerror or exc})"
    for folder in (fallback_dir(), Path(tempfile.gettempdir())):
        target = folder / path.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            n = 1
            while target.exists():
                target = folder / f"{path.stem}-{n}{path.suffix}"
                n += 1
            write_atomic(text, target, overwrite=False)
            return target, f"{reason}; saved to {target} instead"
        except OSError:
            continue
    raise OSError(f"{reason}, and no fallback folder was writable")
