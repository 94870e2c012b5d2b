"""A default run's start, worker by worker: when each part of a worker's way began and ended.

    python bench/trace_start.py              # bntui run --headless --epochs 1, traced
    python bench/trace_start.py --epochs 3 --groups
    python bench/trace_start.py --programs

It runs `bntui run --headless` with a tracer put in front of every process it starts (a
`sitecustomize` module on `PYTHONPATH`, written to a temporary folder): the tracer wraps the
worker's steps (its modules, `import jax`, `import keras`, the model built, the ready event,
`fit`'s set-up, the layer probe, each stored program's first call: its load from the program
store and JAX's compile cache, and the test) and listens to JAX's compile events. It then
prints, per worker, each step's end in seconds since bntui was launched, and how long the
step took, and when bntui's own process started and began to exit and the command ended.
`--groups` adds the time between groups of steps (a fused scan each), per epoch; `--programs`
adds every program JAX compiles or loads from its compile cache (`compile_or_get_cached`):
its name, the time it took, and the last three bntui or Keras lines that called for it (the
small eager operations Keras runs outside the stored steps show up here). The traced
run is slower than an untraced one by a few milliseconds a step; compare runs traced alike.
A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRACER = """
import atexit, functools, os, sys, time
import importlib.abc, importlib.util

OUT = open(f"{os.environ['BNTUI_TRACE_FILE']}.{os.getpid()}", "w", buffering=1)


def log(what, took=None):
    OUT.write(f"{time.time():.4f}\\t{what}\\t{'' if took is None else f'{took:.4f}'}\\n")


log("process started")
atexit.register(lambda: log("exit begun"))


def wrap(owner, name, label, at_least=0.0):
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        begun = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            took = time.time() - begun
            if took >= at_least:
                tag = getattr(args[0], "name", "") if args else ""
                log(f"{label}[{tag}]" if isinstance(tag, str) and tag else label, took)

    setattr(owner, name, timed)


def worker(module):
    wrap(module, "load_splits", "data mapped")
    build = module.build

    def built(spec, key, *args, **kwargs):
        begun = time.time()
        model = build(spec, key, *args, **kwargs)
        log(f"model built[{key}]", time.time() - begun)
        return model

    module.build = built


def setting(module):
    wrap(module.Setting, "ready", "ready event")
    wrap(module.Setting, "test_result", "test and predictions")


def programs(module):
    wrap(module.StoredFunction, "__call__", "program call", 0.015)


def probe(module):
    wrap(module.LayerProbe, "measure", "layer probe measured", 0.05)


def fused(module):
    if not os.environ.get("BNTUI_TRACE_GROUPS"):
        return
    original = module.FusedTrainFunction.__call__

    def call(self, *args, **kwargs):
        log("group")
        return original(self, *args, **kwargs)

    module.FusedTrainFunction.__call__ = call


def compiler(module):
    if not os.environ.get("BNTUI_TRACE_PROGRAMS"):
        return
    import traceback
    original = module.compile_or_get_cached

    def compile_or_get_cached(*args, **kwargs):
        begun = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            took = time.time() - begun
            try:
                name = args[1].operation.attributes["sym_name"].value
            except Exception:
                name = "?"
            ours = [f for f in traceback.extract_stack()[:-1]
                    if "/bntui/" in f.filename or "/keras/" in f.filename]
            where = " <- ".join(
                f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.lineno}"
                for f in reversed(ours[-3:])
            )
            log(f"program {name} ({where})", took)

    module.compile_or_get_cached = compile_or_get_cached


def trainer(module):
    wrap(module.Trainer, "_symbolic_build", "fit's symbolic build", 0.001)


def jax_loaded(module):
    log("import jax done")
    module.monitoring.register_event_duration_secs_listener(
        lambda event, took, **_: took > 0.01 and log(f"jax {event}", took)
    )


HOOKS = {
    "bntui.training.worker": worker,
    "bntui.training.setting": setting,
    "bntui.training.programs": programs,
    "bntui.training.probe": probe,
    "bntui.training.fused": fused,
    "keras.src.trainers.trainer": trainer,
    "jax._src.compiler": compiler,
    "jax": jax_loaded,
    "keras": lambda module: log("import keras done"),
}


class Hooks(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in HOOKS:
            return None
        if name in ("jax", "keras"):
            log(f"import {name} begun")
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run = spec.loader.exec_module

        def exec_module(module, run=run, name=name):
            run(module)
            HOOKS[name](module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Hooks())
"""


def traced_run(
    epochs: int, groups: bool, folder: Path, programs: bool = False
) -> list[list[tuple[float, str, str]]]:
    """Run bntui traced; every process's trace lines as (time, what, took)."""
    (folder / "sitecustomize.py").write_text(TRACER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])),
        "BNTUI_TRACE_FILE": str(folder / "trace"),
    }
    if groups:
        env["BNTUI_TRACE_GROUPS"] = "1"
    if programs:
        env["BNTUI_TRACE_PROGRAMS"] = "1"
    command = [sys.executable, "-m", "bntui", "run", "--headless", "--epochs", str(epochs)]
    begun = time.time()
    done = subprocess.run(
        [*command, "--out", str(folder / "run.json")],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"bntui failed ({done.returncode}):\n{done.stderr[-2000:]}")
    traces = []
    for path in sorted(folder.glob("trace.*")):
        rows = [line.split("\t") for line in path.read_text().splitlines()]
        traces.append([(float(t), what, took) for t, what, took in rows])
    return [[(begun, "bntui launched", ""), (ended, "bntui exited", "")], *traces]


def report(traces: list[list[tuple[float, str, str]]]) -> list[str]:
    """Each process's steps (the command as a whole, bntui's own process, each worker), in
    seconds since bntui was launched."""
    origin = min(rows[0][0] for rows in traces if rows)
    lines = []
    for rows in traces:
        names = [what for _, what, _ in rows if what.startswith("model built[")]
        if names:
            title = f"worker {names[0][len('model built[') : -1]}"
        elif rows[0][1] == "bntui launched":
            title = "the benchmark (bntui's command as a whole)"
        else:
            title = "bntui's own process"
        lines += ["", f"{title}:", "  at s   took s  step"]
        groups = [t for t, what, _ in rows if what == "group"]
        for t, what, took in rows:
            if what != "group":
                lines.append(f"  {t - origin:6.3f} {took or '':>7}  {what}")
        if groups:
            gaps = [round(1000 * (b - a)) for a, b in itertools.pairwise(groups)]
            lines.append(f"  ms between groups: {' '.join(map(str, gaps))}")
    return lines


def main() -> None:
    """Trace one run and print the workers' steps."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--groups", action="store_true", help="also the time between groups")
    parser.add_argument(
        "--programs", action="store_true", help="also every program compiled or cache-loaded"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bntui-trace-") as folder:
        traces = traced_run(args.epochs, args.groups, Path(folder), args.programs)
        print("\n".join(report(traces)))


if __name__ == "__main__":
    main()
