"""The claims file: every cell's results for one battery, typed, versioned, validated on
load and written atomically (like run files). Verdicts are not trusted from the file: they
are recomputed from the cells, so that a file can only say what its measurements say.

A cell's spec must be exactly the one the battery plans for the file's scale, seed and
claims, so anything that validates is a battery bntui can draw, report and resume.

`load_any` reads any bntui document (run, sweep or claims file): this is the lowest module
that knows all three kinds.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from bntui.claims.battery import CLAIMS, SCALES, Scale, design_digest, plan
from bntui.claims.cells import DEEP_LAYERS, CellSpec
from bntui.record.bounds import Duration, Environment, Label, Message, Metric, Name, Positive
from bntui.record.files import Document, FileModel, parse_as, read_bytes
from bntui.record.runfile import RunFile
from bntui.record.sweep import SweepFile

SCHEMA_VERSION = 1
MAX_POINTS = 100_000
MAX_LAYERS = 64
Number = Metric | None
Points = Annotated[list[Number], Field(max_length=MAX_POINTS)]
Accuracy = Annotated[float, Field(ge=0, le=1)] | None
Accuracies = Annotated[list[Accuracy], Field(max_length=MAX_POINTS)]
Step = Annotated[int, Field(ge=0, le=10**12)]
CellStatus = Literal["done", "failed"]
BatteryStatus = Literal["running", "completed", "interrupted", "failed"]


Rate = Annotated[float, Field(gt=0, le=100)]


class ScaleRecord(FileModel):
    """The battery's size as it ran (`bntui.claims.battery.Scale`), kept in the file so that
    a file stays readable when a later bntui changes its scales."""

    name: Literal["quick", "full", "tiny"]
    seeds: Annotated[int, Field(ge=2, le=64)]
    base_train: Annotated[int, Field(ge=64, le=55_000)]
    valid: Annotated[int, Field(ge=64, le=5_000)]
    base_epochs: Annotated[int, Field(ge=2, le=1_000)]
    sweep_train: Annotated[int, Field(ge=64, le=55_000)]
    sweep_epochs: Annotated[int, Field(ge=1, le=1_000)]
    cost_train: Annotated[int, Field(ge=64, le=55_000)]
    target: Annotated[float, Field(gt=0, lt=1)]
    lr_grid: Annotated[list[Rate], Field(min_length=1, max_length=16)]
    init_scales: Annotated[list[Rate], Field(min_length=1, max_length=16)]
    batch_sizes: Annotated[
        list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=1, max_length=16)
    ]
    # Files from before the depth sweep had one deep stack: 8 sigmoid layers.
    depths: Annotated[
        list[Annotated[int, Field(ge=2, le=64)]], Field(min_length=1, max_length=8)
    ] = [DEEP_LAYERS]
    deep_activations: Annotated[
        list[Literal["sigmoid", "relu"]], Field(min_length=1, max_length=2)
    ] = ["sigmoid"]
    # Files from before the notebooks' harness was timed (design 3) did not time it.
    fit_train: Annotated[int, Field(ge=64, le=55_000)] = 8_000
    # Claim regularisation's slice and epochs (design 3 on).
    reg_train: Annotated[int, Field(ge=64, le=55_000)] = 2_000
    reg_epochs: Annotated[int, Field(ge=1, le=1_000)] = 30

    @model_validator(mode="after")
    def _usable(self) -> ScaleRecord:
        if 32 not in self.batch_sizes:
            raise ValueError("batch_sizes must include 32, the reference batch")
        if sorted(set(self.batch_sizes)) != self.batch_sizes:
            raise ValueError("batch_sizes must rise")
        if max(self.batch_sizes) > self.sweep_train or self.cost_train < 32:
            raise ValueError("a batch is larger than its training slice")
        for grid in (self.lr_grid, self.init_scales):
            if sorted(set(grid)) != grid:
                raise ValueError("a grid's values must rise")
        return self

    def scale(self) -> Scale:
        """As the battery uses it."""
        data = self.model_dump()
        for key in ("lr_grid", "init_scales", "batch_sizes", "depths", "deep_activations"):
            data[key] = tuple(data[key])
        return Scale(**data)

    @classmethod
    def of(cls, scale: Scale) -> ScaleRecord:
        """The record of `scale`."""
        return cls.model_validate(asdict(scale))


class LandscapePoint(FileModel):
    """The loss landscape along the gradient at one point of training (claim smoothness): the
    loss and gradient norm there, and for each step size η the loss at w − η g and the
    gradient's change ‖∇L(w − η g) − ∇L(w)‖ (see bntui.claims.worker.landscape)."""

    step: Step
    rates: Annotated[list[Rate], Field(min_length=1, max_length=16)]
    loss: Number = None
    grad_norm: Number = None
    losses: Annotated[list[Number], Field(max_length=16)] = []
    grad_changes: Annotated[list[Number], Field(max_length=16)] = []
    # Santurkar et al.'s gradient-based internal covariate shift, per Dense kernel: its
    # gradient's relative change once the variables before it have taken their SGD step.
    gradient_shift: Annotated[list[Number], Field(max_length=MAX_LAYERS)] = []

    @model_validator(mode="after")
    def _aligned(self) -> LandscapePoint:
        if not len(self.rates) == len(self.losses) == len(self.grad_changes):
            raise ValueError("rates, losses and grad_changes must have equal lengths")
        return self


class SeedResult(FileModel):
    """What one seed of one cell measured."""

    seed: Annotated[int, Field(ge=0, le=2**32 - 1)]
    # Validation curve: the optimizer step of each point and the accuracy/loss there.
    steps: Annotated[list[Step], Field(max_length=MAX_POINTS)] = []
    val_accuracy: Accuracies = []
    val_loss: Points = []
    diverged: bool = False
    # Accuracy on the training slice in inference mode (running statistics), at the end.
    train_accuracy: Accuracy = None
    # BN only: validation accuracy in training mode (batch statistics of the cell's batch).
    train_mode_accuracy: Accuracy = None
    # The fixed probe batch: each point's step, each Dense kernel's gradient norm there,
    # and each Dense layer's input drift summed over training (see bntui.claims.worker.train).
    probe_steps: Annotated[list[Step], Field(max_length=MAX_POINTS)] = []
    layer_grads: Annotated[
        list[Annotated[list[Number], Field(max_length=MAX_LAYERS)]], Field(max_length=MAX_POINTS)
    ] = []
    input_drift: Annotated[list[Number], Field(max_length=MAX_LAYERS)] = []
    # Each hidden layer's activation drift, before any BN normalises it (design 2 on; older
    # files have only `input_drift`, measured on the Dense layers' inputs, after BN).
    activation_drift: Annotated[list[Number], Field(max_length=MAX_LAYERS)] = []
    epoch_seconds: Points = []
    # The worker's CPU time over each epoch (files before it was recorded have none).
    epoch_cpu_seconds: Points = []
    params: Annotated[int, Field(ge=0, le=10**12)] = 0
    # A BN cell evaluated with population statistics (`precise_bn`, design 3 on): the same
    # points' validation accuracy with BN's moving averages, as Keras' `evaluate` gives it.
    val_accuracy_moving: Accuracies = []
    # Claim cost (design 3 on): seconds to predict the validation images after training,
    # for BN also with each BN folded into the next Dense, and the largest difference
    # between the folded and the BN model's predicted probabilities.
    inference_seconds: Number = None
    folded_inference_seconds: Number = None
    fold_error: Number = None
    # End checks (design 3 on; `bntui.claims.worker.deployment`): validation accuracy at the
    # end, clean and under each corruption; the same with BN's statistics re-estimated on
    # those images (BN only); the largest change of a predicted probability when an image's
    # batch companions change, in inference and in training mode.
    shifted_accuracy: Annotated[dict[Label, Accuracy], Field(max_length=16)] = {}
    adapted_accuracy: Annotated[dict[Label, Accuracy], Field(max_length=16)] = {}
    companion_change: Annotated[float, Field(ge=0, le=1)] | None = None
    companion_change_training: Annotated[float, Field(ge=0, le=1)] | None = None
    # Cells with `step_losses` (design 3 on): the last epoch's per-step training losses,
    # summarised: their mean, standard deviation, and share of spikes (over 3× the median).
    step_loss_mean: Number = None
    step_loss_std: Number = None
    step_loss_spikes: Number = None
    # The loss landscape along the gradient at a few points (design 3 on; cells with
    # `landscape_points`).
    landscape: Annotated[list[LandscapePoint], Field(max_length=1_000)] = []

    @model_validator(mode="after")
    def _aligned(self) -> SeedResult:
        if not len(self.steps) == len(self.val_accuracy) == len(self.val_loss):
            raise ValueError("steps, val_accuracy and val_loss must have equal lengths")
        if self.val_accuracy_moving and len(self.val_accuracy_moving) != len(self.steps):
            raise ValueError("val_accuracy_moving must have one value per step")
        if len(self.probe_steps) != len(self.layer_grads):
            raise ValueError("probe_steps and layer_grads must have equal lengths")
        return self

    @property
    def final_accuracy(self) -> float | None:
        """Validation accuracy at the last point (None if it has none)."""
        return self.val_accuracy[-1] if self.val_accuracy else None

    def end_accuracy(self, points: int) -> float | None:
        """The mean validation accuracy of the last `points` evaluations (the last epoch's,
        where a cell evaluates `points` times an epoch): an end point that one noisy
        evaluation cannot swing. None if any of them is missing."""
        last = self.val_accuracy[-points:] if points > 0 else []
        if not last or any(v is None for v in last):
            return None
        return sum(last) / len(last)  # type: ignore[arg-type]


class Placement(FileModel):
    """Where a cell ran, as its worker saw it (`--executor ray`): its node, its device, and
    the versions its results came from (the worker's, not the driver's)."""

    node: Label = ""
    device: Label = ""
    versions: Environment = {}
    # How many times it started: more than once when its worker or node died.
    runs: Annotated[int, Field(ge=1, le=100)] = 1


class CellResult(FileModel):
    """One cell: its spec, how it ended, and each seed's results."""

    spec: dict[str, Any]
    status: CellStatus
    error: Message | None = None
    # When it began, in seconds since the battery started (this session), and how long.
    began: Duration = 0.0
    seconds: Duration = 0.0
    results: Annotated[list[SeedResult], Field(max_length=64)] = []
    # Where it ran, when the executor says (a Ray cluster's node); None: this machine.
    where: Placement | None = None

    @property
    def id(self) -> str:
        """The cell's id (its spec's)."""
        return str(self.spec.get("id", ""))


class VerdictRecord(FileModel):
    """A verdict as written for readers without bntui (bntui recomputes its own)."""

    claim: Label
    verdict: Label
    mean: Number = None
    low: Number = None
    high: Number = None
    n: Annotated[int, Field(ge=0, le=64)] = 0


class ClaimsFile(Document):
    """A battery: what was planned, what finished, what it measured."""

    newest_schema: ClassVar[int] = SCHEMA_VERSION
    # Files before `kind` said `"format": "bntui-claims"` instead; they load the same.
    kind: Literal["claims"] = "claims"
    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)
    status: BatteryStatus = "running"
    started: Label = ""
    finished: Label | None = None
    scale: Literal["quick", "full", "tiny"] = "quick"
    # The scale's figures (files without them use this bntui's scale of that name).
    sizes: ScaleRecord | None = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 64)] = 42
    claims: Annotated[list[Label], Field(min_length=1, max_length=len(CLAIMS))]
    environment: Environment = {}
    device: Name = ""
    workers: Positive = 1
    # The pre-registration: `battery.design_digest` of the design when the battery started
    # (empty in files from before it was recorded).
    design: Label = ""
    cells: Annotated[list[CellResult], Field(max_length=1000)] = []
    verdicts: Annotated[list[VerdictRecord], Field(max_length=len(CLAIMS))] = []

    @field_validator("claims")
    @classmethod
    def _known_claims(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in CLAIMS]
        if unknown:
            raise ValueError(f"unknown claim {unknown[0]!r}; known: {', '.join(CLAIMS)}")
        if len(set(names)) != len(names):
            raise ValueError("a claim is named twice")
        return names

    @model_validator(mode="after")
    def _cells_of_the_plan(self) -> ClaimsFile:
        if self.sizes is None:
            self.sizes = ScaleRecord.of(SCALES[self.scale])
        elif self.sizes.name != self.scale:
            raise ValueError(f"sizes are those of {self.sizes.name!r}, not {self.scale!r}")
        planned = {cell.id: cell for cell in self.plan()}
        seen: set[str] = set()
        for index, cell in enumerate(self.cells):
            expected = planned.get(cell.id)
            if expected is None:
                raise ValueError(f"cells.{index}: {cell.id!r} is not a cell of this battery")
            if cell.id in seen:
                raise ValueError(f"cells.{index}: {cell.id!r} appears twice")
            seen.add(cell.id)
            if cell.spec.get("seeds") != list(expected.seeds):
                raise ValueError(f"cells.{index}: {cell.id!r} has other seeds than the battery")
            seeds = [r.seed for r in cell.results]
            if cell.status == "done" and seeds != list(expected.seeds):
                raise ValueError(f"cells.{index}: seeds {seeds[:4]} are not the cell's seeds")
        return self

    @property
    def battery_scale(self) -> Scale:
        """The scale (quick, full or tiny) this battery ran at, with its figures."""
        assert self.sizes is not None  # set by validation
        return self.sizes.scale()

    def plan(self) -> list[CellSpec]:
        """The cells the battery consists of, finished or not."""
        return plan(list(self.claims), self.battery_scale, self.seed)

    def current_design(self) -> str:
        """This bntui's design digest for the file's claims, scale and seed: equal to
        `design` when the file was planned under the design this bntui runs."""
        return design_digest(list(self.claims), self.battery_scale, self.seed)

    def design_changes(self) -> list[str]:
        """Cells recorded with another design than this bntui's (an older version's file):
        they still show, but a resume would mix two designs."""
        planned = {cell.id: cell.to_dict() for cell in self.plan()}
        # A key a file lacks was not a choice then: it had the value CellSpec defaults to.
        defaults = CellSpec(id="").to_dict()
        return [
            cell.id
            for cell in self.cells
            if any(
                {**defaults, **cell.spec}.get(key) != value
                for key, value in planned[cell.id].items()
                if key != "id"
            )
        ]

    def done(self) -> dict[str, CellResult]:
        """The finished cells by id."""
        return {cell.id: cell for cell in self.cells if cell.status == "done"}

    def record(self, cell: CellResult) -> None:
        """Add a cell's result, replacing an earlier one of the same cell."""
        self.cells = [c for c in self.cells if c.id != cell.id] + [cell]


def load_claims(path: str | os.PathLike[str]) -> ClaimsFile:
    """Read and validate a claims file, or raise RunFileError with one clear message."""
    return parse_claims(read_bytes(path), str(path))


def parse_claims(raw: bytes, name: str = "claims file") -> ClaimsFile:
    """Validate the bytes of a claims file; raise RunFileError saying what is wrong."""
    return parse_as(raw, name, ClaimsFile)


def load_any(path: str | os.PathLike[str]) -> RunFile | SweepFile | ClaimsFile:
    """Read whichever bntui document is at `path` (run, sweep or claims file, told apart by
    its kind), or raise RunFileError with one clear message."""
    return parse_as(read_bytes(path), str(path), RunFile, SweepFile, ClaimsFile)
