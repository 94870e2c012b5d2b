"""Several runs seen together: a sweep's batch sizes, or saved runs given to `bntui compare`.

Plain data, derived from run records: what differs between the runs' specs and setups,
and each run's figures, aligned by epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bntui.core.spec import ExperimentSpec
from bntui.core.text import clean
from bntui.record.runfile import RunFile

# Spec fields that say how a run was shown, not what was trained.
PRESENTATION_FIELDS = {"curve_points_per_epoch", "sample_count", "inside_per_epoch", "preset"}


@dataclass
class RunSet:
    """Runs shown side by side. `kind` is `sweep` or `compare`; `target` a sweep's goal."""

    kind: str
    labels: list[str]
    runs: list[RunFile]
    target: float | None = None
    names: list[str] | None = None  # longer names for the labels (a comparison's file names)


def labels_for(paths: list[Path]) -> tuple[list[str], list[str]]:
    """Letters A, B, … for the charts and tables, and the files' names they stand for."""
    return [chr(ord("A") + i) for i in range(len(paths))], [clean(p.stem, 40) for p in paths]


def setup_of(run: RunFile) -> dict[str, str]:
    """Where and how a run trained, beyond its spec: backend, versions, devices."""
    env = run.environment
    cpu: Mapping[str, Any] = next((d for d in run.devices if d.get("kind") == "CPU"), {})
    return {
        "backend": clean(env.get("backend", run.spec.backend), 40),
        "keras": clean(env.get("keras", "?"), 40),
        "machine": clean(f"{cpu.get('name', '?')} · {cpu.get('cores', '?')} cores", 60),
        "runs on": clean(run.models["plain"].runs_on or "?", 60),
    }


def _shown(value: object) -> str:
    return "—" if value is None else clean(value, 60)


def differences(runs: list[RunFile]) -> list[tuple[str, list[str]]]:
    """(name, value per run) for every spec field or setup item that is not the same."""
    rows: list[tuple[str, list[str]]] = []
    for f in fields(ExperimentSpec):
        values = [_shown(getattr(run.spec, f.name)) for run in runs]
        if len(set(values)) > 1 and f.name not in PRESENTATION_FIELDS:
            rows.append((f.name.replace("_", " "), values))
    setups = [setup_of(run) for run in runs]
    for name in setups[0]:
        values = [setup[name] for setup in setups]
        if len(set(values)) > 1:
            rows.append((name, values))
    return rows
