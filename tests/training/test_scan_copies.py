"""The fused scan compiled with the workers' region analysis (bntui.procs.xla_flags): no
copy of a weight in the loop's body, and the same numbers, bit for bit, as XLA's default."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("the fused scan is for the JAX backend", allow_module_level=True)

import jax  # noqa: E402

from bntui.core.spec import ExperimentSpec  # noqa: E402
from bntui.procs.xla_flags import REGION_ANALYSIS  # noqa: E402
from bntui.training.fused import scan_steps  # noqa: E402
from bntui.training.models import build_model  # noqa: E402
from bntui.training.stack import model_state, ready_to_train  # noqa: E402

FLAG = REGION_ANALYSIS.removeprefix("--").split("=")[0]


def loop_body(hlo: str) -> str:
    """The text of the compiled program's while-loop body (the scan's step)."""
    name = re.search(r"\bwhile\(.*?body=(%[\w.\-]+)", hlo)
    assert name, "no while loop in the compiled scan"
    start = hlo.index(f"\n{name.group(1)} ")
    return hlo[start : hlo.index("\n}", start)]


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_region_analysis_keeps_the_weights_in_place(which: str) -> None:
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(1)
    model = build_model(ExperimentSpec(), which)
    ready_to_train(model, rng.random((64, 28, 28), dtype="float32"), rng.integers(0, 10, 64))
    state = model_state(model)
    group = (
        rng.random((4, 32, 28, 28), dtype="float32"),
        rng.integers(0, 10, (4, 32)).astype("int64"),
    )
    scan = jax.jit(lambda s, b: scan_steps(model, model.train_step, s, b)[1])
    lowered = scan.lower(state, group)
    default = lowered.compile()
    region = lowered.compile(compiler_options={FLAG: True})

    def copied(compiled: object) -> list[str]:
        return re.findall(r"= (f32\[[\d,]+\])\S* copy\(", loop_body(compiled.as_text()))

    # XLA's default copies the dense kernels every step (the reason for the flag) ...
    assert "f32[300,100]" in copied(default)
    # ... region analysis copies nothing.
    assert copied(region) == []
    after_default = jax.tree.leaves(default(state, group))
    after_region = jax.tree.leaves(region(state, group))
    assert len(after_default) == len(after_region) > 10
    for a, b in zip(after_default, after_region):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
