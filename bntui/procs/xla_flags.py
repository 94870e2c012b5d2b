"""The XLA flags a worker starts with: what bntui adds to the user's `XLA_FLAGS`.

A flag the user set keeps the user's value. A flag XLA does not know stops XLA at start
("Unknown flag in XLA_FLAGS"), so a flag newer than the oldest jaxlib bntui accepts is added
only when the installed jaxlib has it; the version is read from jaxlib's files, without
importing it (bntui's own process never imports JAX).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

# XLA's copy insertion, by default, copies every dense kernel the step updates, in every
# step of the fused scan (the first layer's 784x300 included); its region analysis proves
# the copies needless. The same arithmetic, bit for bit, and 11-15% off a model-epoch's
# scan on one core (bench/RESULTS.md, speed round 8). In XLA since late 2024.
REGION_ANALYSIS = "--xla_cpu_copy_insertion_use_region_analysis=true"
REGION_ANALYSIS_SINCE = (0, 5)


def installed_jaxlib() -> tuple[int, int] | None:
    """The installed jaxlib's (major, minor) version, or None when it is not installed or
    its version cannot be read."""
    try:
        spec = importlib.util.find_spec("jaxlib")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        text = (Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text()
    except OSError:
        return None
    found = re.search(r'^_version\s*=\s*"(\d+)\.(\d+)', text, re.MULTILINE)
    return (int(found.group(1)), int(found.group(2))) if found else None


def worker_xla_flags(user_flags: str, threads: int, backend: str) -> str:
    """`XLA_FLAGS` for a worker with `threads` cores of `backend`, from the user's own."""
    flags = user_flags
    if threads == 1 and "multi_thread_eigen" not in flags:
        flags += " --xla_cpu_multi_thread_eigen=false"
    jaxlib = installed_jaxlib() if backend == "jax" else None
    if (
        jaxlib is not None
        and jaxlib >= REGION_ANALYSIS_SINCE
        and "copy_insertion_use_region_analysis" not in flags
    ):
        flags += " " + REGION_ANALYSIS
    return flags.strip()
