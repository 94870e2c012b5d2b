"""A worker's epoch, part by part: where the time goes between the floor and a user's epoch.

    python bench/epoch.py                  # both models, 4 epochs, 2 rounds: a table
    python bench/epoch.py --rounds 3 --epochs 5

Each model trains in a child process pinned to one core, with the worker's own environment
(`bntui.procs.supervisor.worker_env`: one thread, the compile and data caches) and the
worker's own code: `bntui.training.models.build_model`, the fused scan
(`bntui.training.fused`), the streaming callback with layer statistics
(`bntui.training.worker.make_callback`, events dropped), Keras' `fit` with validation. The
child wraps the parts and times each (wall time, `perf_counter`; the compiled scan's time
waits for its result):

- **start-up**: imports (bntui's worker modules, Keras, JAX), the dataset (mapped from
  bntui's data cache), the model built and compiled;
- per epoch: **data feed** (a group's batches gathered and stacked, and its host→device copy),
  **compiled scan** (the groups of up to 68 steps by default, the epoch's short last one included),
  **tail step** (the epoch's last, partial batch), **validation** (5,000 images),
  **layer statistics** (the probe, 5 an epoch), **curve points** (the callback less the
  probe), **fit's loop** (the rest).

The first epoch (compiling, or a compile-cache hit) and the steady ones (the median of the
later epochs) are shown apart, with the floor of that model's products (`bench/floor.py`,
native kernel) measured in the same run. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from floor import floors, pinned_child  # bench/floor.py

HERE = Path(__file__).parent
PARTS = ("feed", "scan", "tail", "validation", "probe", "curve", "loop")
LABELS = {
    "feed": "data feed (batches, stack, copy)",
    "scan": "compiled scan (groups of the run's size)",
    "tail": "tail step (last partial batch)",
    "validation": "validation (5,000 images)",
    "probe": "layer statistics (5 an epoch)",
    "curve": "curve points, other callbacks",
    "loop": "fit's own loop (the rest)",
}


def child(key: str, epochs: int) -> dict[str, Any]:
    """In the pinned child: train model `key` the worker's way, timing the parts."""
    started = time.perf_counter()
    from bntui.training.common import skip_unused_imports

    skip_unused_imports()
    from bntui.core.spec import ExperimentSpec
    from bntui.training.data import load_splits

    spec = ExperimentSpec(epochs=epochs)
    data = load_splits(spec.dataset, spec.validation_size, spec.limit, "float32")
    import keras

    from bntui.training import feed, fused
    from bntui.training.models import build_model
    from bntui.training.probe import PROBE_SIZE, LayerProbe
    from bntui.training.worker import make_callback

    model = build_model(spec, key)
    startup = time.perf_counter() - started
    parts = dict.fromkeys(PARTS, 0.0)

    timing: set[str] = set()  # parts being timed: a part's call inside its own counts once

    def timed(part: str, function: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            if part in timing:
                return function(*args, **kwargs)
            timing.add(part)
            begun = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                parts[part] += time.perf_counter() - begun
                timing.discard(part)

        return run

    class Dropped:
        def now(self) -> float:
            return 0.0

        def emit(self, event: Any) -> None:
            pass

    probe = LayerProbe(model, data.x_valid[:PROBE_SIZE], data.y_valid[:PROBE_SIZE], "jax")
    probe.measure = timed("probe", probe.measure)  # type: ignore[method-assign]
    callback = make_callback(Dropped(), spec, key, probe)
    for hook in ("on_train_batch_end", "on_epoch_end", "on_train_begin"):
        setattr(callback, hook, timed("curve", getattr(callback, hook)))
    fused.fuse_train_steps(model, spec.effective_steps_per_execution())
    train = model.train_function
    # The worker's own group path (`FusedTrainFunction.__call__`), its parts timed where
    # they run: a whole group stacked by the feed, or the batches taken one by one.
    for name in ("take", "stack", "to_device"):
        setattr(train, name, timed("feed", getattr(train, name)))
    groups = feed.GroupedBatches
    groups.next_group = timed("feed", groups.next_group)  # type: ignore[method-assign]
    train.scanned = timed("scan", _blocking(train.scanned))
    train.step_by_step = timed("tail", _blocking(train.step_by_step))

    model.evaluate = timed("validation", model.evaluate)  # type: ignore[method-assign]
    rows: list[dict[str, float]] = []

    class Epochs(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            for part in parts:
                parts[part] = 0.0
            self.begun = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            whole = time.perf_counter() - self.begun
            # The probe runs inside the callback's hooks: the curve part keeps the rest.
            row = {**parts, "curve": parts["curve"] - parts["probe"]}
            # Keras calls `on_epoch_end` after validation: the epoch is complete here.
            row["loop"] = whole - sum(v for p, v in row.items() if p != "loop")
            rows.append({**row, "epoch": whole})

    model.fit(
        data.x_train,
        data.y_train,
        batch_size=spec.batch_size,
        epochs=epochs,
        validation_data=(data.x_valid, data.y_valid),
        validation_batch_size=1000,
        callbacks=[callback, Epochs()],
        verbose=0,
        shuffle=True,
    )
    return {"startup": startup, "epochs": rows}


def _blocking(function: Any) -> Any:
    """`function`, returning once its result is computed (JAX dispatches asynchronously)."""
    import jax

    return lambda *args: jax.block_until_ready(function(*args))


def run_child(key: str, epochs: int, core: int) -> dict[str, Any]:
    """One pinned child with the worker's environment; its figures."""
    from bntui.core.spec import ExperimentSpec
    from bntui.procs.supervisor import worker_env

    env = worker_env(ExperimentSpec(), 1)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    return pinned_child("epoch", f"child({key!r}, {epochs})", core, env)  # type: ignore[no-any-return]


def render(runs: dict[str, list[dict[str, Any]]], floor: dict[str, float]) -> list[str]:
    """One table: each part's seconds, first epoch and steady, per model, against the floor."""
    lines = [
        "| part | plain 1st s | plain steady s | plain steady × "
        "| BN 1st s | BN steady s | BN steady × |",
        "|---|---|---|---|---|---|---|",
    ]
    floor_s = {"plain": floor["plain_s"], "bn": floor["full_s"]}

    def first(key: str, part: str) -> float:
        return statistics.median(r["epochs"][0][part] for r in runs[key])

    def steady(key: str, part: str) -> float:
        return statistics.median(e[part] for r in runs[key] for e in r["epochs"][1:])

    for part in (*PARTS, "epoch"):
        label = LABELS.get(part, "**the epoch**")
        cells = [label]
        for key in ("plain", "bn"):
            cells += [
                f"{first(key, part):.3f}",
                f"{steady(key, part):.3f}",
                f"{steady(key, part) / floor_s[key]:.2f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    startup = {k: statistics.median(r["startup"] for r in runs[k]) for k in runs}
    lines += [
        "",
        f"Start-up (imports, data, model built; median): plain {startup['plain']:.2f} s, "
        f"BN {startup['bn']:.2f} s. Floor (native kernel, same run): plain set "
        f"{floor_s['plain']:.3f} s, full set {floor_s['bn']:.3f} s per model-epoch.",
    ]
    return lines


def main() -> None:
    """Parse arguments, run the children in turn, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    floor = floors(rounds=1, core=args.core)["native"]
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "bn": []}
    for number in range(args.rounds):
        for key in runs:
            runs[key].append(run_child(key, args.epochs, args.core))
        print(f"round {number + 1} done", file=sys.stderr)
    load = os.getloadavg()[0]
    print("\n".join(render(runs, floor)) + f"\nLoad average (1 min) at the end: {load:.2f}.")


if __name__ == "__main__":
    main()
