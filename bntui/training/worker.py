"""A training worker: one process trains one model and streams events as JSON lines.

Run as `python -m bntui.training JOB_JSON` (`bntui.training.__main__`). The original stdout
carries only events; anything Keras or the backend prints goes to stderr, which the supervisor
keeps for error reports.
The worker exits when its stdin closes, so it can never outlive the bntui that started it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from dataclasses import replace
from typing import Any, NoReturn

from bntui.core.events import (
    AWAIT_JOB,
    BatchProgress,
    CallbackNote,
    EpochEnd,
    Event,
    LayerStats,
    ModelDone,
)
from bntui.core.spec import ExperimentSpec
from bntui.training import emit
from bntui.training.cadence import Cadence
from bntui.training.common import (
    is_diverged,
    resume_collection,
    seed_everything,
    skip_unused_imports,
)
from bntui.training.data import DataUnavailable, load_splits
from bntui.training.device import watch_backend_log
from bntui.training.setting import EventStream, Setting


class EventWriter:
    """Writes events to the stream fd; exits the process if the reader is gone."""

    def __init__(self, fd: int, started: float) -> None:
        self.fd = fd
        self.started = started
        self.lock = threading.Lock()
        self.done: set[int] = set()  # the seeds whose ModelDone was sent

    def now(self) -> float:
        """Seconds since the run started (the supervisor's clock)."""
        return round(time.time() - self.started, 4)

    def emit(self, event: Event) -> None:
        """Send one event line; a closed pipe means bntui is gone, so stop at once."""
        data = (event.to_json() + "\n").encode()
        if isinstance(event, ModelDone):
            self.done.add(event.seed)
        with self.lock:
            try:
                while data:
                    data = data[os.write(self.fd, data) :]
            except (BrokenPipeError, OSError):
                os._exit(3)


def _watch_parent() -> None:
    """Exit as soon as stdin closes: the supervisor stopped us or died."""
    try:
        while sys.stdin.buffer.read(1):
            pass
    finally:
        os._exit(4)


def make_callback(
    writer: EventStream, spec: ExperimentSpec, key: str, probe: Any, seed_index: int = 0
) -> Any:
    """A Keras callback that streams curve points, layer statistics (when `probe` is given)
    and epoch ends, and stops on NaN."""
    import keras

    steps = spec.steps_per_epoch
    points = Cadence(steps, spec.curve_points_per_epoch, "every")
    probes = Cadence(steps, spec.inside_per_epoch, "up")

    class StreamCallback(keras.callbacks.Callback):
        diverged = False

        def measure(self, position: float) -> None:
            # `self.model` syncs the JAX trainer's state into the variables first.
            self.model  # noqa: B018
            writer.emit(
                LayerStats(
                    model=key,
                    t=writer.now(),
                    seed=seed_index,
                    position=round(position, 4),
                    layers=probe.measure(),
                )
            )

        def on_train_begin(self, logs: Any = None) -> None:
            if probe:
                self.measure(0.0)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch
            points.restart()
            probes.restart()
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            # Keras reports an epoch's last, short group of fused steps as if it were whole.
            step = min(batch + 1, steps)
            if probe and probes.due(step):
                self.measure(self.epoch + step / steps)
            if not points.due(step):
                return
            # `self.model` first copies the JAX trainer's state into the variables.
            (values,) = emit.step_values(self.model, emit.single, logs or {}, 1)
            writer.emit(
                BatchProgress(
                    model=key,
                    t=writer.now(),
                    seed=seed_index,
                    epoch=self.epoch,
                    step=step,
                    steps=steps,
                    values=values,
                )
            )
            if is_diverged(values.get("loss")):
                self.diverged = True
                if spec.stop_on_divergence:
                    self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            took = round(time.perf_counter() - self.epoch_start, 4)
            ended = {**(logs or {}), "epoch_time_s": took}
            (values,) = emit.epoch_values(self.model, emit.single, ended, 1)
            writer.emit(
                EpochEnd(model=key, t=writer.now(), seed=seed_index, epoch=epoch, values=values)
            )
            if is_diverged(values.get("loss")):
                self.diverged = True
                if spec.stop_on_divergence:
                    self.model.stop_training = True

    return StreamCallback()


def seed_callbacks(
    writer: EventStream, spec: ExperimentSpec, key: str, seed_index: int = 0
) -> list[Any]:
    """The seeds' EarlyStopping, ModelCheckpoint and TensorBoard, as the spec asks; the
    first two report when they act."""
    import keras

    callbacks: list[Any] = []

    def note(epoch: int, what: str, message: str) -> None:
        writer.emit(
            CallbackNote(
                model=key,
                t=writer.now(),
                seed=seed_index,
                epoch=epoch,
                what=what,
                message=message,
            )
        )

    if spec.early_stopping:

        class ReportingEarlyStopping(keras.callbacks.EarlyStopping):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                super().on_epoch_end(epoch, logs)
                if self.stopped_epoch == epoch and self.model.stop_training:
                    best = (self.best_epoch or 0) + 1
                    note(
                        epoch,
                        "early_stopping",
                        f"early stop after epoch {epoch + 1}: val_loss has not improved for "
                        f"{self.patience} epochs; best weights (epoch {best}) restored",
                    )

        callbacks.append(
            ReportingEarlyStopping(
                monitor="val_loss", patience=spec.early_stopping, restore_best_weights=True
            )
        )
    # One seed keeps the seeds' own names; more seeds each get theirs.
    name = key if spec.seeds == 1 else f"{key}-seed{spec.seed}"
    if spec.checkpoint_dir:
        path = os.path.join(spec.checkpoint_dir, f"{name}.keras")

        class ReportingCheckpoint(keras.callbacks.ModelCheckpoint):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                before = self.best
                super().on_epoch_end(epoch, logs)
                if self.best != before:
                    note(
                        epoch,
                        "checkpoint",
                        f"checkpoint: val_loss {self.best:.4f} at epoch {epoch + 1}, saved {path}",
                    )

        callbacks.append(ReportingCheckpoint(path, monitor="val_loss", save_best_only=True))
    if spec.tensorboard_dir:
        callbacks.append(
            keras.callbacks.TensorBoard(log_dir=os.path.join(spec.tensorboard_dir, name))
        )
    return callbacks


def train(
    spec: ExperimentSpec, key: str, writer: EventWriter, job: dict[str, Any] | None = None
) -> None:
    """Load data, then train, evaluate and stream every seed of model `key`: all seeds as
    one vectorised program where `spec.vectorised`, else one seed after another.

    `job` carries the GPU facts the supervisor found with NVML (`bntui.procs.gpus.slot_job`).
    """
    # Before the backend starts: JAX says why it falls back to the CPU only then.
    backend_log = watch_backend_log()
    # Each seed is seeded where its model is built (train_one, seedtrain.seed_stack).
    data = load_splits(
        spec.dataset, spec.validation_size, spec.limit, "float64" if spec.faithful else "float32"
    )
    setting = Setting(spec, key, writer, data, backend_log, job or {})
    if spec.vectorised:
        from bntui.training.seedtrain import train_seeds  # Keras: after the log is watched

        train_seeds(setting)
        return
    for index, seed in enumerate(spec.seed_values):
        status = train_one(setting, index, seed)
        writer.emit(ModelDone(model=key, t=writer.now(), status=status, seed=index))


def train_one(setting: Setting, seed_index: int, seed: int) -> str:
    """Train seed `seed` with Keras' own `fit`; return its final status."""
    spec = replace(setting.spec, seed=seed)
    key, writer, data = setting.key, setting.writer, setting.data
    seed_everything(seed, spec.backend)
    identity = None
    if spec.backend == "jax":
        from bntui.training.programs import program_identity  # JAX, likewise

        identity = program_identity(spec, key)
    model = build(spec, key, identity, seed)
    resume_collection()
    writer.emit(setting.ready(model, seed_index))
    probe = setting.probe(model, identity)
    callback = make_callback(writer, spec, key, probe, seed_index)
    if spec.backend == "jax" and spec.fuse_steps:
        from bntui.training.fused import fuse_train_steps  # JAX, likewise

        fuse_train_steps(model, spec.effective_steps_per_execution(), identity)
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=spec.batch_size,
        epochs=spec.epochs,
        validation_data=(data.x_valid, data.y_valid),
        validation_batch_size=setting.eval_batch,
        callbacks=[callback, *seed_callbacks(writer, spec, key, seed_index)],
        verbose=0,
        shuffle=True,
    )
    if callback.diverged:
        return "diverged"
    writer.emit(setting.test_result(model, seed_index))
    return "completed"


def build(spec: ExperimentSpec, key: str, identity: str | None, seed: int) -> Any:
    """Model `key`, its initial weights kept under `identity` for `seed` on JAX."""
    from bntui.training.models import build_model  # Keras: after the log is watched

    if identity is None:
        return build_model(spec, key)
    from bntui.training.initial import kept_initial_values  # JAX, likewise

    with kept_initial_values(identity, seed):
        return build_model(spec, key)


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: `python -m bntui.training '{"spec": ..., "model": ..., ...}'`,
    or `python -m bntui.training --await-job '{"model": ..., "cores": ...}'` to take the job
    from stdin once Keras is imported (bntui.training.waiting)."""
    args = (argv or sys.argv)[1:]
    job = json.loads(args[-1])
    # Keep the real stdout for events; route every stray print to stderr.
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Before the backend starts its threads, so they all inherit the worker's own cores.
    if job.get("cores"):
        try:
            os.sched_setaffinity(0, job["cores"])
        except (AttributeError, OSError):
            pass
    if args[0] == AWAIT_JOB:
        from bntui.training.waiting import await_job

        job = await_job(_watch_parent)
    else:
        threading.Thread(target=_watch_parent, daemon=True).start()
    spec = ExperimentSpec.from_dict(job["spec"])
    key = job["model"]
    os.environ.setdefault("KERAS_BACKEND", spec.backend)
    skip_unused_imports()
    writer = EventWriter(events_fd, job["started"])
    try:
        train(spec, key, writer, job.get("placement"))
    except Exception as exc:
        traceback.print_exc()
        # Every seed not yet done fails for this reason.
        for index in range(spec.seeds):
            if index not in writer.done:
                writer.emit(
                    ModelDone(
                        model=key, t=writer.now(), seed=index, status="failed", error=_error(exc)
                    )
                )
        return 1
    return 0


def _error(exc: BaseException) -> str:
    if isinstance(exc, DataUnavailable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"[:2000]


def run_as_process() -> NoReturn:
    """Run `main` as the whole process: flush, then exit at once with its code (tearing
    down the interpreter and the backend would only keep the supervisor waiting)."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_as_process()
