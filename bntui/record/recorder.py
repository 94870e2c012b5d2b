"""Turn the event stream into a run file, the way Keras' History callback keeps metrics.

The recorder is the single place where state lives: the dashboard renders from it and
the run file is saved from it, so live and replayed runs cannot disagree.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timezone

from pydantic import TypeAdapter, ValidationError

from bntui.core.events import (
    LAYER_STATS,
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
from bntui.core.spec import ExperimentSpec
from bntui.record.bounds import Environment, devices_from
from bntui.record.columns import LayerTrace
from bntui.record.runfile import (
    DatasetInfo,
    ModelRun,
    ModelSummary,
    Note,
    RunFile,
    SeedRun,
    SystemTrace,
    TestResults,
)

ENVIRONMENT = TypeAdapter(Environment)


def empty_like(run: RunFile) -> RunFile:
    """A copy of `run` with its spec and start time but nothing recorded: neither model's
    records nor the load sampled while it trained (replay samples it again)."""
    seeds = [SeedRun(seed=entry.seed) for entry in run.seeds]
    update = {"seeds": seeds, "duration_s": 0.0, "system": SystemTrace()}
    return run.model_copy(update=update, deep=True)


def _units(row: dict[str, object]) -> int:
    units = row.get("units")
    return units if isinstance(units, int) and units >= 0 else 0


class RunRecorder:
    """Accumulates events into a `RunFile`; `apply` is the only way in."""

    def __init__(self, spec: ExperimentSpec, run: RunFile | None = None) -> None:
        self.run = run or RunFile(
            spec=spec,
            started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            seeds=[SeedRun(seed=seed) for seed in spec.seed_values],
        )
        self.last_t = 0.0

    def model(self, key: str, seed_index: int = 0) -> ModelRun:
        """The record of model `key` (`plain` or `bn`) for seed `seed_index`."""
        return self.run.seeds[seed_index].models[key]

    def apply(self, event: Event) -> None:
        """Record one event; one that does not validate (a worker gone wrong) is dropped."""
        with suppress(ValidationError):
            self._apply(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, SystemSample):
            self._apply_system(event)
            return
        if event.model not in self.run.models or not 0 <= event.seed < len(self.run.seeds):
            return
        self.last_t = max(self.last_t, event.t)
        self.run.duration_s = round(self.last_t, 3)
        record = self.model(event.model, event.seed)
        if isinstance(event, BatchProgress):
            curve = record.curve
            curve.t.append(event.t)
            curve.epoch.append(event.epoch)
            curve.step.append(event.step)
            curve.steps.append(event.steps)
            for metric in STEP_METRICS:
                curve.column(metric.name).append(event.values.get(metric.name))
        elif isinstance(event, EpochEnd):
            for metric in EPOCH_METRICS:
                record.history.column(metric.name).append(event.values.get(metric.name))
            if event.data_order:
                record.data_order.append(event.data_order)
        elif isinstance(event, CallbackNote):
            record.notes.append(
                Note(t=event.t, epoch=event.epoch, what=event.what, message=event.message)
            )
        elif isinstance(event, LayerStats):
            self._apply_inside(record, event)
        elif isinstance(event, ModelReady):
            self._apply_ready(record, event)
        elif isinstance(event, TestResult):
            record.test = TestResults(
                loss=event.loss,
                accuracy=event.accuracy,
                confusion_matrix=event.confusion_matrix,
                predictions=event.predictions,  # type: ignore[arg-type]
                pool_predicted=event.pool_predicted,
                pool_confidence=event.pool_confidence,
                mistakes=event.mistakes,  # type: ignore[arg-type]
            )
        elif isinstance(event, ModelDone):
            record.status = event.status  # type: ignore[assignment]
            record.error = event.error
            record.finished_t = event.t

    def _apply_system(self, event: SystemSample) -> None:
        trace = self.run.system
        values: dict[str, object] = {}
        for key, figures in event.workers.items():
            for figure, number in figures.items():
                values[f"{key}.{figure}"] = number
        for gpu in event.gpus:
            tag = f"gpu{gpu.get('index', 0)}"
            trace.gpu_names.setdefault(tag, str(gpu.get("name", "GPU"))[:100])
            for figure, reading in gpu.items():
                if figure not in ("index", "name"):
                    values[f"{tag}.{figure}"] = reading
        n = len(trace.t)
        trace.t.append(event.t)
        for name in values:
            # A series that starts late (a GPU found later) is padded, keeping lists aligned.
            trace.series.setdefault(name, [None] * n)
        for name, series in trace.series.items():
            found = values.get(name)
            series.append(float(found) if isinstance(found, (int, float)) else None)

    def _apply_inside(self, record: ModelRun, event: LayerStats) -> None:
        inside = record.inside
        if not inside.layers:
            inside.layers = [
                LayerTrace(name=str(row.get("name", "?")), kind=row["kind"], units=_units(row))
                for row in event.layers
                if row.get("kind") in LAYER_STATS
            ]
        rows = [row for row in event.layers if row.get("kind") in LAYER_STATS]
        if [r.get("name") for r in rows] != [layer.name for layer in inside.layers]:
            return  # not the layers this model started with: ignore rather than misalign
        inside.position.append(event.position)
        inside.t.append(event.t)
        for trace, row in zip(inside.layers, rows):
            for stat in LAYER_STATS[trace.kind]:
                value = row.get(stat)
                trace.stats.setdefault(stat, []).append(
                    float(value) if isinstance(value, (int, float)) else None
                )

    def _apply_ready(self, record: ModelRun, event: ModelReady) -> None:
        record.status = "running"
        record.ready_t = event.t
        record.runs_on = event.runs_on
        # What a worker sends is validated as a file would be; what fails is left out.
        with suppress(ValidationError):
            record.summary = ModelSummary.model_validate(event.summary)
        if not self.run.environment:
            with suppress(ValidationError):
                self.run.environment = ENVIRONMENT.validate_python(event.environment)
        if not self.run.devices:
            self.run.devices = devices_from(event.devices)
        if self.run.dataset is None and event.dataset:
            with suppress(ValidationError):
                self.run.dataset = DatasetInfo.model_validate(event.dataset)

    def finish(self, status: str | None = None, error: str | None = None) -> RunFile:
        """Close the run: models still running are marked with `status` (interrupted)."""
        records = [m for entry in self.run.seeds for m in entry.models.values()]
        for record in records:
            if record.status in ("pending", "running"):
                record.status = "interrupted"
                record.finished_t = self.last_t
        if status is None:
            failed = [m for m in records if m.status == "failed"]
            # A model cut short (its worker stopped, the output closed) is not completed.
            stopped = any(m.status == "interrupted" for m in records)
            status = "failed" if failed else "interrupted" if stopped else "completed"
            # Both models often fail for one reason (no dataset): say it once.
            reasons = dict.fromkeys(m.error for m in failed if m.error)
            error = error or "; ".join(reasons) or None
        self.run.status = status  # type: ignore[assignment]
        self.run.error = error
        return self.run
