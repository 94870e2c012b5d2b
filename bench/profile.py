"""Per-step profile of the fused scan, each model at batch 32 on one core, against the floor.

    python bench/profile.py                        # default flags; floors; a table
    python bench/profile.py --flags                # + XLA CPU flag sets, A/B interleaved
    python bench/profile.py --rounds 3 --steps 510

The step bntui trains with (Keras' `train_step` inside a `jax.lax.scan` over a group of 68
steps, the default group, as `bntui.training.fused` and `bntui.training.stack` run it) is
timed whole, then as variants with parts removed, each jitted as a scan over the same groups
of real-shaped data (random images; the timings do not depend on the values):

- `bntui's scan`: Keras' own `train_step` (loss, metrics, the optimizer update, BN
  statistics) in `bntui.training.fused.scan_steps`, the gradient norm on a group's last step
  only: what a user's epoch runs, less `fit`'s own Python (callbacks, curve points,
  validation); `bntui's scan, K=170`: with five times larger groups (the scan's group size);
- `keras step, norm every step`: the plain scan of `train_step`, the gradient-norm reduction
  in every step (bntui before this profile);
- `sgd step`: forward, backward, BN statistics and a plain `w - lr * g`, nothing else;
- `sgd + grad norm` and `sgd + metrics`: that with the reduction or the running means added;
- `forward+loss`: the forward pass and the loss only;
- `dots only`: just the matrix products a step needs (the plain model's set or, for BN,
  the full set with the first layer's input gradient), as XLA emits them on 32-row operands;
- `host→device copy`: putting one group's NumPy batches on the device, per step.

Figures are CPU seconds of the child per model-epoch (1,719 steps; on a busy machine CPU
time leaves out the time other processes hold the core, on an idle one it equals wall
time), the fastest of the repeats (the variants timed in turn), each child
pinned to one core with the worker's own XLA flags (`bntui.procs.supervisor.worker_env`, one
thread). With `--flags` each flag set runs in its own child, the sets in turn, every round.
The floors (`bench/floor.py`, numpy/OpenBLAS, one core) are measured in the same run.
A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
EPOCH_STEPS = 1_719

# Flag sets to compare with the worker's default (`--flags`): each is added to it.
FLAG_SETS = {
    "worker default": "",
    "xnnpack dots": "--xla_cpu_use_xnnpack=true",
    "512-bit vectors": "--xla_cpu_prefer_vector_width=512",
    "custom matmul tiling": "--xla_cpu_enable_custom_matmul_tiling=true",
    "no fusion emitters": "--xla_cpu_use_fusion_emitters=false",
    "onednn": "--xla_cpu_use_onednn=true",
    # The worker asks for region analysis (bntui.procs.xla_flags); the later flag wins.
    "default copy insertion": "--xla_cpu_copy_insertion_use_region_analysis=false",
}


def child(steps: int, repeats: int, group: int) -> dict[str, dict[str, float]]:
    """In the pinned child: each model's variants, seconds per model-epoch."""
    import numpy as np

    rng = np.random.default_rng(0)
    return {key: profile_model(key, rng, steps, repeats, group) for key in ("plain", "bn")}


def profile_model(key: str, rng: Any, steps: int, repeats: int, group: int) -> dict[str, float]:
    """Model `key`'s step and its variants, seconds per model-epoch (fastest of `repeats`)."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from bntui.core.spec import ExperimentSpec
    from bntui.training.fused import scan_steps
    from bntui.training.models import build_model
    from bntui.training.stack import model_state, ready_to_train

    spec = ExperimentSpec()
    model = build_model(spec, key)
    ready_to_train(model, rng.random((64, 28, 28), dtype=np.float32), rng.integers(0, 10, 64))
    lr = float(spec.learning_rate)
    full_set = key == "bn"  # the BN model needs the first layer's input gradient

    def groups_of(size: int) -> list[tuple[Any, Any]]:
        return [
            (
                jax.device_put(rng.random((size, 32, 28, 28), dtype=np.float32)),
                jax.device_put(rng.integers(0, 10, (size, 32)).astype(np.int64)),
            )
            for _ in range(max(1, steps // size))
        ]

    def timer(step: Any, carry: Any, groups: list[Any], size: int, whole: bool = False) -> Any:
        """Compile the scan of `step`; return a function timing one pass over `groups`.
        `whole`: `step` is a whole group's scan already."""

        def scan(carry: Any, batches: Any) -> Any:
            if whole:
                return step(carry, batches)
            return jax.lax.scan(lambda c, b: (step(c, b), None), carry, batches)[0]

        run = jax.jit(scan, donate_argnums=0)
        held = [jax.block_until_ready(run(carry, groups[0]))]  # compile

        def once() -> float:
            start = time.process_time()
            for g in groups:
                held[0] = run(held[0], g)
            jax.block_until_ready(held[0])
            return (time.process_time() - start) * EPOCH_STEPS / (len(groups) * size)

        return once

    def keras_step(state: Any, batch: Any) -> Any:
        return model.train_step(state, batch)[1]

    def loss_of(trainable: Any, non_trainable: Any, x: Any, y: Any) -> Any:
        probs, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        loss = jnp.mean(keras.losses.sparse_categorical_crossentropy(y, probs))
        return loss, (non_trainable, probs)

    grad_of = jax.value_and_grad(loss_of, has_aux=True)

    def sgd(carry: Any, batch: Any, norm: bool = False, metrics: bool = False) -> Any:
        trainable, non_trainable, extra = carry
        (loss, (non_trainable, probs)), grads = grad_of(trainable, non_trainable, *batch)
        trainable = [w - lr * g for w, g in zip(trainable, grads)]
        if norm:
            extra = extra.at[0].set(jnp.sqrt(sum(jnp.sum(g * g) for g in grads)))
        if metrics:
            right = jnp.mean(jnp.argmax(probs, -1) == batch[1].astype("int32"))
            extra = extra + jnp.stack([0.0, loss, right.astype("float32")])
        return trainable, non_trainable, extra

    def forward(carry: Any, batch: Any) -> Any:
        trainable, non_trainable, extra = carry
        loss, _ = loss_of(trainable, non_trainable, *batch)
        return trainable, non_trainable, extra + loss

    def dots(carry: Any, batch: Any) -> Any:
        ws, total = carry
        acts = [batch[0].reshape(32, 784)]
        for w in ws:
            acts.append(acts[-1] @ w)
        grad = acts[-1]
        for i in range(len(ws) - 1, -1, -1):
            total = total + jnp.sum((acts[i].T @ grad)[0])
            if i or full_set:
                grad = grad @ ws[i].T
        return ws, total + jnp.sum(grad[0])

    def copied(values: Any) -> Any:  # the jitted scans donate their carry
        return jax.tree.map(lambda v: jnp.array(np.asarray(v)), values)

    state = model_state(model)
    light = (state[0], state[1], np.zeros(3, np.float32))
    kernels = [np.asarray(v) for v in state[0] if np.ndim(v) == 2]
    g_default, g_big = groups_of(group), groups_of(170)
    host = [
        (rng.random((group, 32, 28, 28), dtype=np.float32), rng.integers(0, 10, (group, 32)))
        for _ in range(len(g_default))
    ]

    def copy_once() -> float:
        start = time.process_time()
        for h in host:
            jax.block_until_ready(jax.device_put(h))
        return (time.process_time() - start) * EPOCH_STEPS / (len(host) * group)

    def bntui_group(state: Any, batches: Any) -> Any:
        return scan_steps(model, model.train_step, state, batches)[1]

    timers = {
        "bntui's scan": timer(bntui_group, copied(state), g_default, group, whole=True),
        "bntui's scan, K=170": timer(bntui_group, copied(state), g_big, 170, whole=True),
        "keras step, norm every step": timer(keras_step, copied(state), g_default, group),
        "sgd step": timer(sgd, copied(light), g_default, group),
        "sgd + grad norm": timer(
            lambda c, b: sgd(c, b, norm=True), copied(light), g_default, group
        ),
        "sgd + metrics": timer(
            lambda c, b: sgd(c, b, metrics=True), copied(light), g_default, group
        ),
        "forward+loss": timer(forward, copied(light), g_default, group),
        "dots only": timer(dots, copied((kernels, np.zeros((), np.float32))), g_default, group),
        "host→device copy": copy_once,
    }
    # The variants in turn, `repeats` times, so a busy spell falls on all of them; the
    # fastest pass of each is kept (the least disturbed by other processes).
    passes: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(repeats):
        for name, once in timers.items():
            passes[name].append(once())
    return {name: min(times) for name, times in passes.items()}


def run_child(flags: str, core: int, steps: int, repeats: int, group: int) -> dict[str, Any]:
    """One pinned child with the worker's environment plus `flags`; its figures."""
    from bntui.core.spec import ExperimentSpec
    from bntui.procs.supervisor import worker_env

    env = worker_env(ExperimentSpec(), 1)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    env["PYTHONPATH"] = str(HERE.parent)
    cmd = [sys.executable, __file__, "--child", "--core", str(core), "--steps", str(steps)]
    cmd += ["--repeats", str(repeats), "--group", str(group)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE.parent)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0][:160]}
    return json.loads(lines[-1][len("RESULT ") :])


def render(runs: dict[str, list[dict[str, Any]]], floor: dict[str, dict[str, float]]) -> list[str]:
    """Tables: one per flag set, each model's variants against the floors."""
    native, forced = floor["native"], floor["forced"]
    lines = []
    for name, results in runs.items():
        good = [r for r in results if "error" not in r]
        if not good:
            lines += [f"**{name}**: failed ({results[0]['error']})", ""]
            continue
        lines += [
            f"**{name}** ({len(good)} rounds; s per model-epoch, median over rounds; "
            "× = against the native floor of that model's set)",
            "",
            "| part | plain s | plain × | BN s | BN × |",
            "|---|---|---|---|---|",
        ]
        for part in good[0]["plain"]:
            p = statistics.median(r["plain"][part] for r in good)
            b = statistics.median(r["bn"][part] for r in good)
            lines.append(
                f"| {part} | {p:.3f} | {p / native['plain_s']:.2f} | {b:.3f} "
                f"| {b / native['full_s']:.2f} |"
            )
        lines.append("")
    lines.append(
        f"Floors (numpy float32, one core, batch 32, one model-epoch): native kernel "
        f"({native['kernel']}) plain set {native['plain_s']:.3f} s, full set "
        f"{native['full_s']:.3f} s, 2048² {native['gflops_2048']:.0f} GFLOP/s; forced "
        f"({forced['kernel']}) {forced['plain_s']:.3f} s, {forced['full_s']:.3f} s, "
        f"{forced['gflops_2048']:.0f} GFLOP/s."
    )
    return lines


def main() -> None:
    """Profile, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=340, help="steps timed per variant")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--group", type=int, default=68)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--flags", action="store_true", help="compare the XLA flag sets")
    parser.add_argument("--only", nargs="*", help="flag set names to run (with --flags)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        os.sched_setaffinity(0, {args.core})
        print("RESULT " + json.dumps(child(args.steps, args.repeats, args.group)))
        return
    import floor as floor_module

    sets = {"worker default": ""}
    if args.flags:
        sets = {k: v for k, v in FLAG_SETS.items() if not args.only or k in args.only}
    loads = [os.getloadavg()[0]]
    best = floor_module.floors(1, args.core)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
    for round_index in range(args.rounds):
        for name, flags in sets.items():
            runs[name].append(run_child(flags, args.core, args.steps, args.repeats, args.group))
            print(f"round {round_index + 1}: {name} done", flush=True)
        loads.append(os.getloadavg()[0])
    again = floor_module.floors(1, args.core)
    for kind in best:
        for k in ("plain_s", "full_s"):
            best[kind][k] = min(best[kind][k], again[kind][k])
    loads.append(os.getloadavg()[0])
    lines = render(runs, best)
    lines.append(f"Load average (1 min) during the run: {', '.join(f'{x:.2f}' for x in loads)}.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
