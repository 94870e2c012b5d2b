"""Compiled programs kept in the program store beside the exported ones, so that a later
run's first call of a stored step skips JAX's tracing, lowering and compile-cache lookup.

A stored step's first call in a run used to trace a call of its exported program, lower it
(inlining the stored module), hash the result for JAX's compile-cache key and only then read
the compiled executable from that cache. Here the executable compiled from the stored program
is kept (`jax.experimental.serialize_executable`) under a name made of what shapes it: the
program's identity (`bntui.training.programs.program_identity`: the model, its optimizer,
bntui's training code, the library versions, JAX's settings), the step's name, its
arguments' structure, shapes, dtypes and weak types, the donated argument, the device, the
`XLA_FLAGS` in force and this CPU's model and features (an executable built for AVX-512
cannot run elsewhere). A later run loads it and calls it directly. On the 2-vCPU AMD EPYC of
`bench/RESULTS.md` (speed round 18) that took the default run's first epoch over a steady
one from 0.21 s to 0.16 s (medians of six runs each).

An executable is kept only when it was compiled here, not read from JAX's compile cache
(`compile_to_keep` says why), and when its copy, loaded back, computed bit for bit what it
did. So the first run of an experiment compiles its steps even when JAX's cache holds them
(about 4 s more, once). Only on the CPU: on a GPU the steps keep JAX's own dispatch (not
measured there). A kept file is read with `pickle`, as JAX's serialized executables are: the
store is trusted as JAX's compile cache is, whose entries are machine code run as they are
read. A file that does not load is compiled and written again; the least recently used
beyond `KEPT` are removed.

Imported only inside JAX worker processes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import platform
import zlib
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.experimental import serialize_executable

from bntui.training.storefiles import mark_used, prune_oldest, write_atomically

SUFFIX = ".jaxexec"
# An XLA option that changes nothing these programs compute (`compile_to_keep`).
UNCACHED_OPTION = "xla_cpu_collective_call_warn_stuck_seconds"
# Executables kept (10-130 KB each, compressed, for the default models; five a model): beyond
# this the least recently used are removed, so a long sweep cannot fill a disk.
KEPT = 256


def device_of(args: Any) -> Any:
    """The device of the first JAX array among `args`, or None (NumPy only)."""
    for leaf in jax.tree.leaves(args):
        if isinstance(leaf, jax.Array):
            return next(iter(leaf.devices()))
    return None


def signature_of(args: Any) -> tuple[Any, tuple[tuple[tuple[int, ...], str], ...]]:
    """`args`' tree, and each leaf's shape and dtype (its type's name when it has none)."""
    leaves, tree = jax.tree.flatten(args)
    return tree, tuple((tuple(getattr(leaf, "shape", ())), _dtype_name(leaf)) for leaf in leaves)


def _dtype_name(leaf: Any) -> str:
    dtype = getattr(leaf, "dtype", None)
    return str(dtype) if dtype is not None else type(leaf).__name__


def keeps_for(device: Any) -> bool:
    """Whether programs on `device` (None: JAX's default) are kept compiled: on the CPU."""
    platform_name = device.platform if device is not None else jax.default_backend()
    return bool(platform_name == "cpu")


@functools.cache
def cpu_features() -> str:
    """This CPU's model and instruction-set features, as the kernel reports them."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    wanted = ("model name", "flags", "Features", "CPU implementer", "CPU part")
    lines = [line for line in text.splitlines() if line.split(":")[0].strip() in wanted]
    return "\n".join(sorted(set(lines)))


def path_for(directory: Path, identity: str, name: str, args: Any, donate: Any) -> Path:
    """Where the executable of step `name` for `args`' signature is kept."""
    tree, shapes = signature_of(args)
    leaves = jax.tree.leaves(args)
    weak = [getattr(getattr(leaf, "aval", None), "weak_type", None) for leaf in leaves]
    described = [
        identity,
        name,
        str(tree),
        shapes,
        weak,
        donate,
        str(device_of(args)),
        os.environ.get("XLA_FLAGS", ""),
        cpu_features(),
    ]
    digest = hashlib.sha256(repr(described).encode()).hexdigest()[:32]
    return directory / f"{name}-{digest}{SUFFIX}"


def load(path: Path) -> Any | None:
    """The executable kept at `path`, loaded on this process's devices, or None when there
    is none or it does not load."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        serialized, in_tree, out_tree, calls_lapack = pickle.loads(zlib.decompress(data))
        if calls_lapack:
            set_up_lapack()
        compiled = serialize_executable.deserialize_and_load(serialized, in_tree, out_tree)
    except Exception:  # damaged, or made by another JAX: compiled and kept again
        return None
    mark_used(path)
    return compiled


def compile_to_keep(lowered: Any) -> Any:
    """`lowered` compiled by XLA here, neither read from JAX's compile cache nor written to it.

    An executable JAX read from its cache serializes without its kernels' object code (on
    jaxlib 0.10.2 a small program's 19,103 bytes came out as 9,458, and the copy then failed
    with "Function ... not found"): only a fresh compile can be kept. A compile option set to
    no effect (a timeout for collectives, which these programs have none of) gives the
    program a cache key of its own, and the least compile time JAX writes, raised meanwhile,
    keeps it out of the cache, so that key never hits either."""
    setting = "jax_persistent_cache_min_compile_time_secs"
    before = jax.config.values[setting]
    jax.config.update(setting, float("inf"))
    try:
        return lowered.compile(compiler_options={UNCACHED_OPTION: "20"})
    except Exception as exc:
        if UNCACHED_OPTION not in str(exc):
            raise
        # An XLA without that option: compiled as usual (`keep` then keeps only what
        # loads back and computes the same).
        return lowered.compile()
    finally:
        jax.config.update(setting, before)


def keep(path: Path, compiled: Any, calls_lapack: bool, args: Any) -> None:
    """Keep `compiled` at `path` if it serializes, its copy loads and computes what it does
    on copies of `args` (bit for bit), and the folder allows."""
    try:
        kept = (*serialize_executable.serialize(compiled), calls_lapack)
        data = zlib.compress(pickle.dumps(kept), 6)  # a fifth of the size; 2 ms to read
        copy = serialize_executable.deserialize_and_load(*pickle.loads(zlib.decompress(data))[:3])
        if not same_results(compiled(*copied(args)), copy(*copied(args))):
            return
    except Exception:  # an executable JAX cannot serialize or load back: it runs, unkept
        return
    if write_atomically(path, data):
        prune_oldest(path.parent, f"*{SUFFIX}", KEPT)


def copied(args: Any) -> Any:
    """`args` with each JAX array copied on its device (a program may donate them)."""

    def copy(leaf: Any) -> Any:
        if isinstance(leaf, jax.Array):
            return jax.device_put(np.array(leaf), next(iter(leaf.devices())))
        return leaf

    return jax.tree.map(copy, args)


def same_results(first: Any, second: Any) -> bool:
    """Whether two programs' outputs have one structure and the same bytes."""
    leaves, tree = jax.tree.flatten(first)
    others, other_tree = jax.tree.flatten(second)
    return bool(str(tree) == str(other_tree)) and all(
        np.asarray(a).tobytes() == np.asarray(b).tobytes() for a, b in zip(leaves, others)
    )


def set_up_lapack() -> None:
    """JAX's LAPACK handlers, which a program calling LAPACK needs before it runs (JAX sets
    them up while lowering such a program; a kept executable is not lowered)."""
    from jax._src.lax import linalg

    set_up = getattr(linalg, "initialize_lapack", None)
    if set_up is not None:
        set_up()


def set_up_lapack_only_for(exported: Any) -> bool:
    """Set up JAX's LAPACK handlers if `exported` calls LAPACK, and stop JAX doing it for
    every exported program; return whether it calls LAPACK.

    JAX sets them up (importing scipy.linalg: 0.2-0.3 s of a worker's first epoch) the first
    time it lowers a call to any exported program on the CPU; the MLP's programs never call
    LAPACK. A program that does names its LAPACK targets in its module."""
    from jax._src.export import _export
    from jax._src.lax import linalg

    calls_lapack = b"lapack" in exported.mlir_module_serialized
    set_up = getattr(linalg, "initialize_lapack", None)
    if set_up is None or not hasattr(_export, "_ensure_backends_initialized"):
        return calls_lapack  # another JAX: its own way stays
    if calls_lapack:
        set_up()
    _export._ensure_backends_initialized = _backends_set_up_per_program
    return calls_lapack


def _backends_set_up_per_program(platforms: tuple[str, ...]) -> None:
    """Nothing: `set_up_lapack_only_for` did it for the programs that need it."""
