"""A worker's start skips the imports Keras makes only for inputs a worker never passes
(pandas), defers those it seldom uses (scipy.sparse through JAX's sparse solver, h5py,
psutil, requests, rich; Pallas' TPU attention) to their first use, and Keras works without them;
JAX's search for a ROCm plugin reads only the metadata that could name one; the garbage
collector is paused until the model is built (fresh interpreters: real imports, real
training)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fresh import fresh_output

from bntui.core.spec import ExperimentSpec
from bntui.procs.supervisor import worker_env
from bntui.training.programs import STORE_ENV

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
print(any(name.startswith("jax._src.pallas") for name in sys.modules))
print("scipy.sparse" in sys.modules)
{after}
"""


def _lines(before: str, after: str = "") -> list[str]:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", WORKER_IMPORTS.format(before=before, after=after)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


def _run(before: str) -> str:
    """Whether pandas was imported, and the prediction's shape."""
    return _lines(before)[-3]


def test_a_worker_imports_keras_and_predicts_without_pandas() -> None:
    pytest.importorskip("pandas")  # installed here: Keras would import it
    assert _run("") == "False (3, 2)"


def test_without_the_skip_keras_imports_pandas() -> None:
    # The control: the test above would see pandas if the skip did nothing.
    pytest.importorskip("pandas")
    assert _run("sys.modules.pop('pandas', None); skip_unused_imports = lambda: None") == (
        "True (3, 2)"
    )


def test_a_worker_defers_scipy_sparse_and_the_control_imports_it() -> None:
    assert _lines("")[-1] == "False"
    # The control: without the skip, Keras (through JAX's sparse solver) imports it.
    assert _lines("skip_unused_imports = lambda: None")[-1] == "True"


def test_a_worker_leaves_pallas_unloaded_and_the_control_loads_it() -> None:
    # Keras' JAX backend imports Pallas' TPU splash attention at its top.
    assert _lines("")[-2] == "False"
    assert _lines("skip_unused_imports = lambda: None")[-2] == "True"


def test_the_stand_in_for_splash_attention_loads_the_real_one_on_first_use() -> None:
    after = (
        "from keras.src.backend.jax import nn; "
        "mask = nn.splash_attention_mask.CausalMask; "
        "import jax.experimental.pallas.ops.tpu.splash_attention.splash_attention_mask as real; "
        "print(mask is real.CausalMask, callable(nn.splash_attention_kernel.make_splash_mha))"
    )
    assert _lines("", after)[-1] == "True True"


def test_the_deferred_modules_load_on_first_use(tmp_path: Path) -> None:
    """A checkpoint (h5py inside a .keras file) is saved and read back after the skip."""
    path = tmp_path / "model.keras"
    after = (
        f"model.save({str(path)!r}); "
        f"again = keras.models.load_model({str(path)!r}); "
        "np.testing.assert_array_equal(again.predict(np.ones((3, 4), 'float32'), verbose=0), out); "
        "import h5py, psutil; print(h5py.File.__name__, psutil.virtual_memory().total > 0)"
    )
    assert _lines("", after)[-1] == "File True"
    assert path.stat().st_size > 0


def test_psutil_and_rich_wait_until_used_and_then_work() -> None:
    """bntui's worker modules (bntui.procs.system: psutil) and Keras (rich, for
    `model.summary()`) import them at their tops; in a worker they load on first use."""
    unused = (
        "import bntui.training.worker; "
        "print([type(sys.modules[m]).__name__ for m in ('psutil', 'rich.console', 'rich.table')])"
    )
    assert _lines("", unused)[-1] == "['_LazyModule', '_StandIn', '_StandIn']"
    used = (
        "import io, contextlib; text = io.StringIO(); "
        "with_summary = contextlib.redirect_stdout(text); with_summary.__enter__(); "
        "model.summary(); with_summary.__exit__(None, None, None); "
        "print(type(sys.modules['rich.console']).__name__, 'Total params' in text.getvalue())"
    )
    assert _lines("", used)[-1] == "module True"


ROCM_SCAN = """
import importlib.metadata as metadata, sys
read = []
every = metadata.PathDistribution.read_text
def counted(self, filename):
    read.append(filename)
    return every(self, filename)
metadata.PathDistribution.read_text = counted
if sys.argv[1] == "skip":
    from bntui.training.common import skip_unused_imports
    skip_unused_imports()
import jax.numpy
from jax._src.numpy import array_constructors
plugin = array_constructors.rocm_plugin_extension
print(getattr(plugin, "__name__", None), read.count("METADATA"))
"""


def test_jaxs_rocm_plugin_search_reads_only_what_could_name_one_and_finds_it(
    tmp_path: Path,
) -> None:
    """A ROCm plugin installed beside everything else is found with the skip as without it;
    without it JAX reads every distribution's metadata, with it only the plugin's."""
    info = tmp_path / "jax_rocm7_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: jax-rocm7-plugin\nVersion: 0.1\n")
    (tmp_path / "jax_rocm7_plugin").mkdir()
    (tmp_path / "jax_rocm7_plugin" / "__init__.py").write_text("")
    (tmp_path / "jax_rocm7_plugin" / "rocm_plugin_extension.py").write_text("")
    # Last on the path: JAX stops at the first plugin it finds.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*sys.path, str(tmp_path)])}
    found = {}
    for way in ("skip", "jax's own"):
        name, reads = fresh_output(ROCM_SCAN, way, env=env).split()
        found[way] = (name, int(reads))
    plugin = "jax_rocm7_plugin.rocm_plugin_extension"
    assert found["skip"][0] == found["jax's own"][0] == plugin
    assert found["skip"][1] == 1
    assert found["jax's own"][1] > 20  # every installed distribution's


def test_the_worker_launcher_defers_before_the_workers_own_imports() -> None:
    source = (Path(__file__).parents[2] / "bntui" / "training" / "__main__.py").read_text()
    assert source.index("skip_unused_imports()") < source.index("from bntui.training.worker")


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


GC_PAUSED = """
import gc, runpy
import bntui.training.worker as worker
worker.run_as_process = lambda: print("collecting while starting:", gc.isenabled())
runpy.run_module("bntui.training", run_name="__main__")
"""

GC_RESUMED = """
import gc, sys
gc.disable()  # as the worker's launcher does
from bntui.training.common import skip_unused_imports
skip_unused_imports()
from bntui.core.spec import ExperimentSpec
from bntui.training import worker

class Writer:
    def now(self):
        return 0.0

    def emit(self, event):
        if type(event).__name__ == "ModelReady":
            print("collecting when ready:", gc.isenabled(), gc.get_freeze_count() > 0)

worker.train(ExperimentSpec(limit=200, epochs=1, inside_per_epoch=0), sys.argv[1], Writer())
print("collecting after training:", gc.isenabled())
"""


def test_the_worker_launcher_pauses_the_garbage_collector() -> None:
    assert _fresh(GC_PAUSED) == ["collecting while starting: False"]


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_a_worker_resumes_collection_once_its_model_is_built(which: str, tmp_path: Path) -> None:
    """Real training: at ModelReady the collector runs again, start-up's objects frozen."""
    assert _fresh(GC_RESUMED, which, store=tmp_path) == [
        "collecting when ready: True True",
        "collecting after training: True",
    ]


def test_resuming_leaves_a_running_collector_alone() -> None:
    code = (
        "import gc; from bntui.training.common import resume_collection; "
        "resume_collection(); print(gc.isenabled(), gc.get_freeze_count())"
    )
    assert _fresh(code) == ["True 0"]


def _fresh(code: str, *args: str, store: Path | None = None) -> list[str]:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    if store is not None:
        env[STORE_ENV] = str(store)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if line.startswith("collecting")] or [
        done.stdout.strip()
    ]
