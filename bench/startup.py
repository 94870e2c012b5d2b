"""A worker's start, part by part: the imports and the model built, in fresh interpreters.

    python bench/startup.py              # 5 rounds, the variants in turn: a table
    python bench/startup.py --rounds 9

Each figure is the wall time of one fresh interpreter pinned to one core, with the
worker's environment (`bntui.procs.supervisor.worker_env`), doing one thing (the median
over the rounds; the variants alternate, so a busy moment falls on all of them):

- `python` alone (the interpreter's own start), `import numpy`, `import ml_dtypes` (NumPy
  first; its version is printed: 0.7.0 takes about a second here, 0.6 milliseconds, so
  bntui asks for <0.7), `import jax`;
- `import keras` on JAX as a worker does it (pandas skipped:
  `bntui.training.common.skip_unused_imports`) and as a plain script does it (Keras imports
  pandas when it is installed, only to accept DataFrames);
- the worker's whole way to a built model: its modules, the dataset from bntui's data
  cache (`bntui.training.datacache`), the model built and compiled (`build_model`).

A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent

VARIANTS = {
    "python alone": "pass",
    "import numpy": "import numpy",
    "import ml_dtypes (after numpy)": "import numpy; import ml_dtypes",
    "import jax": "import jax",
    "import keras, pandas skipped (a worker)": (
        "from bntui.training.common import skip_unused_imports; skip_unused_imports(); import keras"
    ),
    "import keras, pandas imported": "import keras",
    "worker start → model built": (
        "from bntui.training.common import skip_unused_imports; skip_unused_imports(); "
        "from bntui.core.spec import ExperimentSpec; from bntui.training.data import load_splits; "
        "spec = ExperimentSpec(); load_splits(spec.dataset, spec.validation_size, None); "
        "from bntui.training.models import build_model; build_model(spec, 'bn')"
    ),
}


def worker_like_env() -> dict[str, str]:
    """A worker's environment (`bntui.procs.supervisor.worker_env`), with this checkout's
    bntui importable."""
    from bntui.core.spec import ExperimentSpec
    from bntui.procs.supervisor import worker_env

    env = worker_env(ExperimentSpec(), 1)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    return env


def once(code: str, core: int) -> float:
    """Seconds for one fresh, pinned interpreter running `code` with a worker's environment."""
    env = worker_like_env()
    begun = time.perf_counter()
    subprocess.run(
        ["taskset", "-c", str(core), sys.executable, "-c", code],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - begun


def imports_s(core: int) -> float:
    """Seconds from spawning a fresh, pinned interpreter with a worker's environment to JAX
    and Keras imported as a worker imports them (`VARIANTS`' "a worker" line), the
    interpreter's exit left out: what a worker pays before bntui's own work can begin."""
    code = VARIANTS["import keras, pandas skipped (a worker)"] + "; import time; print(time.time())"
    env = worker_like_env()
    begun = time.time()
    done = subprocess.run(
        ["taskset", "-c", str(core), sys.executable, "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.split()[-1]) - begun


def main() -> None:
    """Time the variants in turn, `--rounds` times; print medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, code in VARIANTS.items():
            times[name].append(once(code, args.core))
    import ml_dtypes

    print(f"ml_dtypes {ml_dtypes.__version__}; median of {args.rounds} rounds, wall s:\n")
    print("| fresh interpreter | s | fastest s |\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} |")
    print(f"\nLoad average (1 min) at the end: {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
