"""A worker's start skips the imports Keras makes only for inputs a worker never passes
(pandas), and Keras works without them (fresh interpreters: real imports)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bntui.core.spec import ExperimentSpec
from bntui.procs.supervisor import worker_env

WORKER_IMPORTS = """
import sys
from bntui.training.common import skip_unused_imports
{before}
skip_unused_imports()
import keras
import numpy as np
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
out = model.predict(np.ones((3, 4), "float32"), verbose=0)
print(sys.modules.get("pandas") is not None, out.shape)
"""


def _run(before: str) -> str:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", WORKER_IMPORTS.format(before=before)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_a_worker_imports_keras_and_predicts_without_pandas() -> None:
    pytest.importorskip("pandas")  # installed here: Keras would import it
    assert _run("") == "False (3, 2)"


def test_without_the_skip_keras_imports_pandas() -> None:
    # The control: the test above would see pandas if the skip did nothing.
    pytest.importorskip("pandas")
    assert _run("sys.modules.pop('pandas', None); skip_unused_imports = lambda: None") == (
        "True (3, 2)"
    )


def test_the_run_worker_and_the_claims_cells_skip_pandas() -> None:
    # Both worker entry points call the skip before their first Keras import.
    import inspect

    from bntui.claims import runner
    from bntui.training import worker

    for source in (inspect.getsource(worker.main), inspect.getsource(runner.train_cell)):
        assert "skip_unused_imports()" in source


def test_pandas_already_imported_is_left_alone() -> None:
    pytest.importorskip("pandas")
    assert _run("import pandas") == "True (3, 2)"


def test_the_workers_xla_flags_are_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each word XLA reads from XLA_FLAGS is a --flag (a bare word is not a setting).
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    words = worker_env(ExperimentSpec(), threads=1)["XLA_FLAGS"].split()
    assert words and all(word.startswith("--") for word in words)
