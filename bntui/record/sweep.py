"""The batch-size sweep (EXPERIMENTS.md §3): the plain/BN pair once per batch size.

A sweep file holds one complete run record per batch size, so every run in it can be read
like any run file; the table that answers the seed's question is derived, never stored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from bntui.core.spec import TARGET_ACCURACY, ExperimentSpec, SpecError
from bntui.record.bounds import Label, Positive
from bntui.record.files import Document, parse_as, read_bytes
from bntui.record.runfile import RunFile, RunStatus

SWEEP_SCHEMA_VERSION = 1
MAX_SWEEP_RUNS = 16
# The validation accuracy a sweep's table times ("epochs to reach"), per dataset: the one
# every "epochs to reach" of bntui times.
DEFAULT_TARGETS = TARGET_ACCURACY


class SweepFile(Document):
    """One sweep: the base spec's runs, one per batch size, in the order they ran."""

    newest_schema: ClassVar[int] = SWEEP_SCHEMA_VERSION
    kind: Literal["sweep"] = "sweep"
    schema_version: int = Field(default=SWEEP_SCHEMA_VERSION, ge=1)
    status: RunStatus = "running"
    started_at: Label = ""
    target_accuracy: float = Field(gt=0, le=1)
    batch_sizes: list[Positive] = Field(min_length=1, max_length=MAX_SWEEP_RUNS)
    runs: list[RunFile] = Field(min_length=1, max_length=MAX_SWEEP_RUNS)

    @model_validator(mode="after")
    def _one_run_per_size(self) -> SweepFile:
        sizes = [run.spec.batch_size for run in self.runs]
        if sizes != self.batch_sizes:
            raise ValueError(f"runs' batch sizes {sizes} differ from batch_sizes")
        return self


def parse_sizes(text: str) -> list[int]:
    """`32,64,128` → [32, 64, 128]; SpecError for anything else."""
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise SpecError(
            f"--batch-sizes must be whole numbers separated by commas, not {text!r}"
        ) from None
    if not sizes or any(size <= 0 for size in sizes):
        raise SpecError("--batch-sizes must be positive whole numbers, e.g. 32,64,128,256")
    if len(set(sizes)) != len(sizes):
        raise SpecError("--batch-sizes lists a size twice")
    if len(sizes) > MAX_SWEEP_RUNS:
        raise SpecError(f"--batch-sizes takes at most {MAX_SWEEP_RUNS} sizes")
    return sizes


def sweep_specs(base: ExperimentSpec, sizes: list[int]) -> list[ExperimentSpec]:
    """The base spec once per batch size (each validated)."""
    specs = [replace(base, batch_size=size) for size in sizes]
    for spec in specs:
        spec.check_trainable()
    return specs


def parse_document(raw: bytes, name: str) -> RunFile | SweepFile:
    """A run file or a sweep file, told apart by `kind`; RunFileError if neither."""
    return parse_as(raw, name, RunFile, SweepFile)


def load_document(path: str) -> RunFile | SweepFile:
    """Read a run or sweep file from `path`, or raise RunFileError with one clear message."""
    return parse_document(read_bytes(path), path)
