"""A metric is its declaration and the code that measures it: every trainer then reports it.

A fresh interpreter declares a test-only metric before anything reads the declarations (as
`bntui.core.metrics` itself would), registers how it is measured, trains a model with two
stacked seeds and with Keras' own `fit`, and records the events as bntui does. The recorded
curve and history must hold the new column, with the right value at every point.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import json, os
os.environ.setdefault("KERAS_BACKEND", "jax")
from bntui.core import metrics

# The optimizer's step count: at epoch e, step s of an S-step epoch it is e*S + s.
NEW = metrics.Metric("optimizer_steps", "steps", "point", "optimizer steps taken so far")
metrics.STEP_METRICS = (*metrics.STEP_METRICS, NEW)
metrics.EPOCH_METRICS = (*metrics.EPOCH_METRICS, NEW)
from bntui.training import emit

emit.MEASURED["optimizer_steps"] = lambda model, read: read(model.optimizer.iterations)

from bntui.core.events import ModelDone
from bntui.core.spec import ExperimentSpec
from bntui.record.recorder import RunRecorder
from bntui.training.data import load_splits
from bntui.training.device import watch_backend_log
from bntui.training.seedtrain import train_seeds
from bntui.training.setting import Setting
from bntui.training.worker import train_one


class Recording:
    def __init__(self, recorder):
        self.recorder = recorder

    def now(self):
        return 0.0

    def emit(self, event):
        self.recorder.apply(event)


log = watch_backend_log()
found = {}
for seeds in (2, 1):
    spec = ExperimentSpec(limit=200, epochs=2, seeds=seeds, inside_per_epoch=0,
                          curve_points_per_epoch=3, sample_count=1)
    data = load_splits(spec.dataset, spec.validation_size, spec.limit)
    recorder = RunRecorder(spec)
    writer = Recording(recorder)
    setting = Setting(spec, "bn", writer, data, log, {})
    if spec.vectorised:
        train_seeds(setting)
    else:  # as the worker does
        status = train_one(setting, 0, spec.seed)
        writer.emit(ModelDone(model="bn", t=0.0, seed=0, status=status))
    found[seeds] = [
        {"curve": entry.models["bn"].curve.model_dump(),
         "history": entry.models["bn"].history.model_dump(),
         "status": entry.models["bn"].status}
        for entry in recorder.run.seeds
    ]
print(json.dumps(found))
"""


def test_a_newly_declared_metric_is_recorded_by_every_trainer() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    steps = -(-200 // 32)  # 200 images at batch 32: 7 steps an epoch
    assert [len(found["2"]), len(found["1"])] == [2, 1]
    for record in [*found["2"], *found["1"]]:  # two stacked seeds, then one with `fit`
        assert record["status"] == "completed"
        curve, history = record["curve"], record["history"]
        assert len(curve["step"]) >= 2 * 3
        expected = [e * steps + s for e, s in zip(curve["epoch"], curve["step"])]
        assert curve["optimizer_steps"] == expected
        assert history["optimizer_steps"] == [steps, 2 * steps]
        # The declared metrics as before, beside it.
        assert all(v is not None for v in curve["gradient_norm"] + history["val_loss"])
