"""The package's layers, read from its source with `ast` (imports inside functions too):
dependencies run one way, there is no import cycle, Keras stays on the training side, and
every import deferred into a function is one of the few that defer a heavy library."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bntui"
# Lowest first: a module imports only from its own layer or lower ones.
LAYERS = (
    "core", "record", "stats", "procs", "training", "session", "outputs", "claims", "tui", "cli",
)  # fmt: skip
HEAVY = ("keras", "jax", "jaxlib", "tensorflow")
WORKER_SIDE = ("bntui.training", "bntui.claims.worker")
# Imports inside functions, each for a reason: what it defers.
DEFERRED = {
    # `bntui --help` and bad input answer without Textual, pydantic, numpy or scipy.
    "bntui.cli.main": "each command imports what it runs",
    "bntui.cli.claims": "each branch imports what it runs",
    # A run's workers spawn before typer and pydantic load (bntui.procs.prestart).
    "bntui.cli.launch": "bntui.procs.prestart, then bntui.cli.main",
    # scipy.stats costs 1.5 s at start-up; the quantile is needed only with several seeds.
    "bntui.stats.intervals": "scipy.special",
    "bntui.stats.significance": "scipy.stats, scipy.special",
    # NVML is optional: a machine without the NVIDIA driver never loads it.
    "bntui.procs.system": "pynvml",
    # Runs in the battery's worker processes only; the parent never imports Keras.
    "bntui.claims.runner": "bntui.claims.worker.cellrun",
    # Inside the workers, Keras and JAX load only once KERAS_BACKEND is set and the backend's
    # log is watched (it says once, at start, why a GPU went unused).
    "bntui.training.worker": "keras, models, fused, seedtrain",
    "bntui.training.setting": "keras, models, probe",
    "bntui.training.common": "keras; importlib.metadata, as JAX reads it, for its plugin search",
    "bntui.training.data": "keras.datasets (a download, only when nothing is on disk)",
    "bntui.training.device": "jax, tensorflow",
    "bntui.training.fused": "keras' JAX trainer internals",
    "bntui.training.feed": "keras' array adapter (a Keras without it keeps its own batches)",
    "bntui.training.probe": "jax or tensorflow, whichever the backend is",
    "bntui.training.programs": "jaxlib and keras (their versions name a program), keras' layout",
    "bntui.training.initial": "keras' JAX variable (its initialization is intercepted)",
    "bntui.training.models": "bntui.training.eager, on the JAX backend only",
    "bntui.training.eager": "keras' JAX variable (another Keras: its own conversion)",
    "bntui.training.executables": "JAX's LAPACK and export internals (another JAX: its own way)",
    "bntui.training.waiting": "keras and the JAX side, after the worker pinned its cores",
    # Ray is an extra: these load without it (and say how to install it); only
    # `--executor ray` loads it.
    "bntui.cli.cluster": "the Ray executors, only with --executor ray",
    "bntui.procs.raycluster": "ray",
    "bntui.procs.ray_executor": "ray",
    "bntui.procs.ray_cell": "ray, and fcntl (POSIX) in the worker that pins a core",
    "bntui.procs.ray_sweep": "ray",
}
# The only modules that import Ray (inside functions).
RAY_SIDE = ("bntui.procs.raycluster", "bntui.procs.ray_executor", "bntui.procs.ray_cell",
            "bntui.procs.ray_sweep")  # fmt: skip


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = modules()


@cache
def imports(name: str) -> list[tuple[str, bool]]:
    """(imported module, inside a function?) for each import in module `name`."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    nested = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(fn)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}".strip(".")
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            found.append((resolve(target), id(node) in nested))
    return found


def resolve(target: str) -> str:
    """The package's module a dotted import names (its longest prefix that is one), or the
    outside package's top name."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in MODULES:
            return ".".join(parts[:k])
    return parts[0]


def layer(name: str) -> int | None:
    """The rank of module `name`'s layer; None for the package's own `__init__`/`__main__`."""
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


@cache
def graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (anywhere in it)."""
    return {name: {t for t, _ in imports(name) if t in MODULES and t != name} for name in MODULES}


def test_the_top_of_the_package_holds_only_layers() -> None:
    top = {p.name for p in PACKAGE.iterdir() if not p.name.startswith("__")}
    assert top == set(LAYERS)


def test_there_is_no_import_cycle() -> None:
    edges, cycles = graph(), []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(edges[name]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    # The package's `__init__` is imported by every module (its version): not an edge back.
    assert [c for c in cycles if "bntui" not in c] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_or_lower_ones(name: str) -> None:
    own = layer(name)
    if own is None:
        return
    higher = [t for t in graph()[name] if (layer(t) or 0) > own]
    assert higher == [], f"{name} ({LAYERS[own]}) imports a higher layer"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_keras_jax_and_tensorflow_are_imported_only_on_the_training_side(name: str) -> None:
    heavy = [t for t, _ in imports(name) if t in HEAVY]
    worker_side = name.startswith(WORKER_SIDE)
    assert worker_side or heavy == [], f"{name} imports {heavy}"
    reaches = [t for t, inside in imports(name) if t.startswith(WORKER_SIDE) and not inside]
    assert worker_side or reaches == [], f"{name} imports the worker side: {reaches}"


def test_imports_inside_functions_are_the_deferred_heavy_ones() -> None:
    deferring = {name for name in MODULES if any(inside for _, inside in imports(name))}
    assert deferring == set(DEFERRED)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_ray_is_imported_only_inside_the_ray_executors_functions(name: str) -> None:
    found = [inside for target, inside in imports(name) if target == "ray"]
    if name in RAY_SIDE:
        assert found and all(found), f"{name} imports Ray at its top"
    else:
        assert found == [], f"{name} imports Ray"
