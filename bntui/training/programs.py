"""Training programs kept on disk (`jax.export`), so a later run skips tracing Keras' step.

A fused worker's first epoch traces Keras' `train_step` twice (the scan of a group of steps,
and one step at the epoch's last 24 images) and lowers each; the persistent
compile cache only skips XLA's compile after that. On the 2-core Intel Xeon of
`bench/RESULTS.md` that tracing and lowering is about 1.4 s of the BN worker's first epoch,
on the run's critical path. Here each program is exported once (StableHLO, serialized) and
every later run loads it instead: the first epoch then spends about 0.3 s getting its
programs (the compile cache's hit included).

Every run, the first one too, executes the exported program, so a run that exports and a run
that loads compute the same numbers. The store is read while JAX traces a new argument
signature; later calls are JAX's own dispatch (a Python check per call cost about 0.5 ms, 40 ms
an epoch). On the CPU the executable compiled from a stored program is kept beside it
(`bntui.training.executables`), and a later run calls that instead of tracing, lowering and
looking the program up in JAX's compile cache again. An entry is named after everything that
shapes the program: the experiment's settings that build the model and its optimizer (architecture,
optimizer, learning rate, steps per call...), the JAX, jaxlib, Keras and bntui versions, the
source of `bntui.training`, Keras' and JAX's settings, the platform, and the arguments' tree,
shapes and dtypes. A changed entry makes a
new name; an unreadable or mismatched one is exported again. Without `$BNTUI_PROGRAM_CACHE_DIR`
(tests, other callers), or when exporting fails, the step is plain `jax.jit`, as before.

Imported only inside JAX worker processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import jax
from jax import export

from bntui.core.spec import ExperimentSpec
from bntui.training import executables
from bntui.training.evaluation import (
    TestFunction,
    predict_joined_on_host,
    test_step_with_predictions,
)
from bntui.training.storefiles import write_atomically

STORE_ENV = "BNTUI_PROGRAM_CACHE_DIR"
SUFFIX = ".jaxexport"


def store_dir() -> Path | None:
    """The folder `$BNTUI_PROGRAM_CACHE_DIR` names, or None (no store)."""
    root = os.environ.get(STORE_ENV)
    return Path(root) if root else None


# Spec fields that build no part of a training program: the data order, how long, how
# much is recorded, where files go. Every other field is part of a program's name, so a field
# added later counts until it is listed here.
NOT_IN_PROGRAMS = frozenset(
    {
        "seed",
        "seeds",
        "epochs",
        "limit",
        "validation_size",
        "curve_points_per_epoch",
        "inside_per_epoch",
        "sample_count",
        "stop_on_divergence",
        "early_stopping",
        "checkpoint_dir",
        "tensorboard_dir",
    }
)


def program_identity(spec: ExperimentSpec, key: str) -> str:
    """A digest of everything but the arguments that shapes the training programs of model
    `key` (`bntui.training.models.build_model(spec, key)`): the spec's fields that build
    it, bntui's training source, the library versions, Keras' and JAX's settings, the
    platform.

    Built from the spec, not from the model: Keras' `get_config` imports TensorFlow when it
    is installed (5 s here). Libraries count by version only: a Keras or JAX edited in
    place (an editable install) is not noticed; delete the store then."""
    import jaxlib
    import keras

    import bntui
    from bntui import training

    sources = hashlib.sha256()
    for path in sorted(Path(training.__file__).parent.glob("*.py")):
        sources.update(path.name.encode() + path.read_bytes())
    settings = {
        name: value
        for name, value in jax.config.values.items()
        if isinstance(value, (bool, int, float, str, type(None)))
    }
    fields = {k: v for k, v in spec.to_dict().items() if k not in NOT_IN_PROGRAMS}
    described = {
        "model": key,
        "spec": fields,
        "steps": spec.effective_steps_per_execution(),
        "versions": [jax.__version__, jaxlib.__version__, keras.__version__, bntui.__version__],
        "source": sources.hexdigest(),
        # keras.json's settings: the loss clips with epsilon, Flatten reads the data format.
        "keras": [
            keras.config.floatx(),
            keras.config.backend(),
            keras.config.dtype_policy().name,
            keras.config.epsilon(),
            keras.config.image_data_format(),
        ],
        "jax": settings,
        "platform": [jax.default_backend(), jax.devices()[0].device_kind],
    }
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


class StoredFunction:
    """`jax.jit(function, donate_argnums=donate)`, its programs exported to and loaded from
    `directory` (one per argument signature); `donate` None donates nothing.

    The store is consulted while JAX traces a new signature: a call with a signature seen
    before is JAX's own dispatch, with no Python of ours. On the CPU each signature's
    executable is kept too, and called directly (JAX's compiled call, which checks the
    arguments' types before it runs anything and refuses another signature)."""

    def __init__(
        self, function: Any, donate: int | None, directory: Path, identity: str, name: str
    ) -> None:
        self.function = function
        self.donate = () if donate is None else donate
        self.directory = directory
        self.identity = identity
        self.name = name
        self.loaded = 0  # programs read from the store (exported or compiled)
        self.exported = 0  # programs exported (and written, when the folder allows)
        self.fresh: set[Any] = set()  # signatures whose stored program failed to build
        self.traced_loaded: Any = None  # the signature a stored program was just traced for
        self.calls_lapack = True  # whether the program just traced calls LAPACK
        self.jitted: Any = None  # made at the first call, on its arguments' device
        self.compiled: list[Any] = []  # kept executables met this run, the last used first

    def __call__(self, *args: Any) -> Any:
        """Run the program for these arguments' signature (found, loaded or exported)."""
        for index, compiled in enumerate(self.compiled):
            try:
                result = compiled(*args)
            except TypeError:  # another signature: refused before anything runs
                continue
            if index:
                self.compiled.insert(0, self.compiled.pop(index))
            return result
        if self.jitted is None:
            self.jitted = self.jit_on_device_of(args)
        compiled = self.compiled_for(args)
        if compiled is not None:
            self.compiled.insert(0, compiled)
            return compiled(*args)
        try:  # A stored program is traced and compiled here, before any buffer is donated.
            result = self.jitted(*args)
        except Exception as exc:
            if not self.forget_unusable(exc, args):
                raise
            return self.jitted(*args)
        self.traced_loaded = None
        return result

    def compiled_for(self, args: Any) -> Any:
        """The executable for `args`' signature: kept in the store, else compiled here and
        kept (`bntui.training.executables`); None off the CPU or when it does not compile
        (the caller's `jax.jit` then runs it, or says why)."""
        if not executables.keeps_for(executables.device_of(args)):
            return None
        path = executables.path_for(self.directory, self.identity, self.name, args, self.donate)
        compiled = executables.load(path)
        if compiled is not None:
            self.loaded += 1
            return compiled
        try:
            compiled = executables.compile_to_keep(self.jitted.lower(*args))
        except Exception as exc:
            if not self.forget_unusable(exc, args):
                return None
            try:
                compiled = executables.compile_to_keep(self.jitted.lower(*args))
            except Exception:
                return None
        self.traced_loaded = None
        executables.keep(path, compiled, self.calls_lapack, args)
        return compiled

    def forget_unusable(self, exc: Exception, args: Any) -> bool:
        """After `exc` while a signature was traced and compiled: True when a stored program
        was read for it (then it is exported again by a new `jax.jit`, which traces the
        signature again; the others load again, from the store), else False."""
        failed, self.traced_loaded = self.traced_loaded, None
        if failed is None:
            return False
        print(f"bntui: stored program unusable ({exc}); exporting it again", file=sys.stderr)
        self.loaded -= 1
        self.fresh.add(failed)
        self.jitted = self.jit_on_device_of(args)
        return True

    def jit_on_device_of(self, args: Any) -> Any:
        """`jax.jit` of `stored_call` taking every argument on the device `args` are on.

        Arrays fresh from Keras (not yet committed to a device) and a program's outputs
        (committed) then make one signature. Otherwise JAX lowers the program and loads it
        from the compile cache again for each mix: the scan three times a run (its first
        call, its second, and the first after Keras resets the metrics for epoch 2) and
        the layer probe twice, 0.05-0.15 s each."""
        device = executables.device_of(args)
        if device is None:
            return jax.jit(self.stored_call, donate_argnums=self.donate)
        sharding = jax.sharding.SingleDeviceSharding(device)
        return jax.jit(self.stored_call, donate_argnums=self.donate, in_shardings=sharding)

    def stored_call(self, *args: Any) -> Any:
        """Traced by `jitted` once per signature: a call of the stored program, or of a new
        export of the function (none stored, or the stored one failed)."""
        signature = executables.signature_of(args)
        digest = hashlib.sha256(f"{self.identity} {self.name} {signature!r}".encode())
        path = self.directory / f"{self.name}-{digest.hexdigest()[:32]}{SUFFIX}"
        exported = None if signature in self.fresh else self.load(path, signature)
        if exported is not None:
            self.loaded += 1
            self.traced_loaded = signature
        else:
            specs = jax.tree.map(_spec, args)
            try:
                exported = export.export(jax.jit(self.function))(*specs)
                data = exported.serialize()
            except Exception as exc:  # e.g. a custom call JAX cannot serialize
                print(f"bntui: training step not exported ({exc}); tracing it", file=sys.stderr)
                self.calls_lapack = True  # not known: set up if ever loaded compiled
                return self.function(*args)
            self.exported += 1
            write_atomically(path, data)
        self.calls_lapack = executables.set_up_lapack_only_for(exported)
        return exported.call(*args)

    @staticmethod
    def load(path: Path, signature: Any) -> Any:
        """The exported program at `path` if it reads and takes `signature`, else None."""
        try:
            exported = export.deserialize(bytearray(path.read_bytes()))
        except Exception:  # missing, unreadable, or not a program this JAX reads
            return None
        tree, shapes = signature
        expected: Any = jax.tree.structure((tree.unflatten([0] * len(shapes)), {}))
        takes = expected == exported.in_tree
        avals = tuple((tuple(a.shape), str(a.dtype)) for a in exported.in_avals)
        return exported if takes and avals == shapes else None


class ProgramStore:
    """One model's programs in the store folder."""

    def __init__(self, directory: Path, identity: str) -> None:
        self.directory = directory
        self.identity = identity
        self.functions: list[StoredFunction] = []  # every step kept here, for reports

    @classmethod
    def open(cls, identity: str | None) -> ProgramStore | None:
        """The store for the programs named `identity` (`program_identity`), or None when
        there is no identity or `$BNTUI_PROGRAM_CACHE_DIR` is unset."""
        directory = store_dir()
        return cls(directory, identity) if directory is not None and identity else None

    def jit(self, function: Any, name: str, donate: int | None = 0) -> StoredFunction:
        """`jax.jit(function, donate_argnums=donate)`, kept here; `name` tells the model's
        programs apart; `donate` None donates no argument."""
        stored = StoredFunction(function, donate, self.directory, self.identity, name)
        self.functions.append(stored)
        return stored

    def keep_evaluation_steps(self, model: Any) -> bool:
        """Make `model`'s validation, `evaluate` and `predict` run their steps from here too.

        Keras' JAX trainer jits one test step and one predict step and loops over them in
        Python (`_make_function`); here they are jitted through the store and looped over
        alike (`bntui.training.evaluation`). The test step also returns the predictions it
        scores, so the model gets a test set's loss, accuracy and probabilities in one pass
        (`model.test_function.evaluate_with_predictions`), and validation warms that program
        for it; the predict step's outputs are joined by NumPy. Returns False (Keras' own
        kept) without `_make_function`, when Keras would not jit, or with a distribution set.
        """
        from keras.src.distribution import distribution_lib

        if getattr(model, "_make_function", None) is None:
            return False
        if model.run_eagerly or not model.jit_compile:
            return False
        if distribution_lib.distribution() is not None:
            return False

        def predict_step(state: Any, data: Any) -> tuple[Any, Any]:
            # As Keras' make_predict_function: the outputs, and the state without optimizer.
            outputs, non_trainable_variables = model.predict_step(state, data)
            return outputs, (state[0], non_trainable_variables)

        steps = model.steps_per_execution
        test = self.jit(test_step_with_predictions(model), "test")
        model.test_function = TestFunction(model, test, steps)
        model.predict_function = predict_joined_on_host(self.jit(predict_step, "predict"), steps)
        return True


def _spec(leaf: Any) -> Any:
    weak = getattr(getattr(leaf, "aval", None), "weak_type", False)
    return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, weak_type=weak)
