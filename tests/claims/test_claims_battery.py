"""Claims with real training on tiny slices: each design trains what it says (pairs start
alike, the scale multiplies the kernels, BN only where asked), the same seeds give the same
results, worker processes fail alone, an interrupted battery resumes where it stopped, and
headless a battery ends as a run does (signals, a closed output, a failure: the one table of
exit codes)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from conftest import assert_gone, bntui_command

from bntui.claims.battery import BASE_EVALS, SCALES, plan
from bntui.claims.cells import CellSpec
from bntui.claims.claimfile import ClaimsFile, load_claims
from bntui.claims.measures import measures
from bntui.procs.scheduler import Failed, Finished, ProcessExecutor, Scheduler
from bntui.session.lifecycle import STOP_SIGNALS

pytestmark = pytest.mark.slow
# The cells train on JAX, as in the workers: this process imports Keras for them.
os.environ.setdefault("KERAS_BACKEND", "jax")
TINY = SCALES["tiny"]


def cells() -> dict[str, CellSpec]:
    names = ["convergence", "init", "small-batches", "gradients", "cost"]
    return {c.id: c for c in plan(names, TINY, 42)}


def test_pairs_start_from_the_same_weights_and_the_scale_multiplies_them() -> None:
    from keras import layers

    from bntui.claims.worker.train import built, data

    d = data()
    x, y = d["x_train"][:4], d["y_train"][:4]
    spec = cells()
    plain, bn = built(spec["base/plain"], 42, x, y), built(spec["base/bn"], 42, x, y)
    big = built(spec["init/plain/10"], 42, x, y)
    other = built(spec["base/plain"], 43, x, y)

    def kernels(model: Any) -> list[np.ndarray]:
        return [layer.kernel.numpy() for layer in model.layers if isinstance(layer, layers.Dense)]

    def count(model: Any, kind: type) -> int:
        return sum(isinstance(layer, kind) for layer in model.layers)

    for a, b, c, o in zip(kernels(plain), kernels(bn), kernels(big), kernels(other)):
        assert np.array_equal(a, b)  # seed 42: the same start with and without BN
        assert np.allclose(a * 10, c)
        assert not np.array_equal(a, o)
    assert (count(plain, layers.BatchNormalization), count(bn, layers.BatchNormalization)) == (0, 3)
    deep = built(spec["deep/bn"], 42, x, y)
    assert (count(deep, layers.Dense), count(deep, layers.BatchNormalization)) == (9, 8)


def test_a_cell_measures_what_its_claims_need_and_repeats_exactly() -> None:
    from bntui.claims.worker.cellrun import run_cell

    spec = cells()
    bn_small = spec["batch/bn/4"]
    first, again = run_cell(bn_small), run_cell(bn_small)
    for a, b in zip(first, again):
        for timing in ("epoch_seconds", "epoch_cpu_seconds"):  # the clock, not the numbers
            a.pop(timing), b.pop(timing)
        assert a == b  # same seed, same numbers: verdicts are reproducible
    assert all(r["train_mode_accuracy"] is not None for r in first)
    assert run_cell(replace(spec["batch/plain/4"]))[0]["train_mode_accuracy"] is None
    base = run_cell(spec["base/bn"])
    points = TINY.base_epochs * BASE_EVALS + 1  # the evaluations of each epoch, the start
    assert [len(r["steps"]) for r in base] == [points, points]
    assert len(base[0]["probe_steps"]) == TINY.base_epochs * 2 + 1
    # Two hidden layers' activation drift; three Dense kernels' gradient norms.
    assert len(base[0]["activation_drift"]) == 2 and len(base[0]["layer_grads"][0]) == 3
    timed = run_cell(spec["cost/plain"])
    assert [len(r["epoch_seconds"]) for r in timed] == [4, 4]
    assert [len(r["epoch_cpu_seconds"]) for r in timed] == [4, 4]


def test_precise_bn_scores_with_population_statistics_and_leaves_the_averages() -> None:
    from bntui.claims.worker.cellrun import run_cell
    from bntui.claims.worker.train import Cell

    spec = cells()
    bn = Cell(spec["base/bn"], (42, 43))
    moving_before = bn.evaluate()
    averages = [np.asarray(v).copy() for v in bn.stack.state[1]]
    precise = bn.precise_evaluate()
    # At the start the moving averages are BN's initial 0 and 1, far from the pixels'
    # statistics: population statistics score differently ...
    assert not np.allclose(precise[0], moving_before[0])
    # ... and computing them changes neither the averages nor what Keras' evaluate gives.
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(averages, bn.stack.state[1]))
    assert np.array_equal(bn.evaluate()[0], moving_before[0])
    runs = run_cell(spec["base/bn"])
    assert all(len(r["val_accuracy_moving"]) == len(r["steps"]) for r in runs)
    assert "val_accuracy_moving" not in run_cell(spec["base/plain"])[0]


def test_cost_times_both_harnesses_and_bn_folds_into_the_dense_layers() -> None:
    from bntui.claims.worker.cellrun import run_cell

    spec = cells()
    fused = run_cell(spec["cost/bn"])
    # Folded, BN is the plain architecture and predicts the same probabilities.
    assert all(r["fold_error"] < 1e-4 and r["folded_inference_seconds"] > 0 for r in fused)
    plain = run_cell(spec["cost/plain"])
    assert all(r["inference_seconds"] > 0 and "fold_error" not in r for r in plain)
    # The notebooks' harness: Keras fit on TensorFlow in a child process, the same model.
    fit = run_cell(spec["cost-fit/bn"])
    assert [r["seed"] for r in fit] == [42, 43]
    assert all(len(r["epoch_seconds"]) == 3 and min(r["epoch_seconds"]) > 0 for r in fit)
    assert fit[0]["params"] == fused[0]["params"]


def test_the_shift_is_measured_before_bn_normalises_and_the_control_is_standardised() -> None:
    from bntui.claims.worker.train import Cell

    spec = cells()
    bn = Cell(spec["base/bn"], (42,))
    _, moments = bn.probe()
    # After BN the hidden activations would have means β = 0 and spreads γ = 1 by design:
    # measured where BN takes them (ReLU outputs), their means are positive and spreads vary.
    assert len(moments) == 2
    for means, spreads in moments:
        assert float(means.mean()) > 0.05 and float(np.std(spreads)) > 0.01
    plain = Cell(spec["base/plain"], (42,))
    assert abs(float(plain.x.mean())) < 1e-3 and float(plain.x.std()) == pytest.approx(1, abs=0.1)
    assert float(bn.x.min()) >= 0.0  # the BN model sees the raw pixels; its first BN scales them


def fine(job: Any, progress: Any) -> str:
    progress(1.0)
    return f"did {job.id}"


def broken(job: Any, progress: Any) -> str:
    if job.id == "raises":
        raise ValueError("no good")
    if job.id == "dies":
        os._exit(9)
    return f"did {job.id}"


class Plain:
    def __init__(self, id: str) -> None:
        self.id, self.work, self.exclusive = id, 1.0, False


def test_worker_processes_fail_one_job_at_a_time() -> None:
    slots = [{"_cores": ""}]
    executor = ProcessExecutor(broken, slots)
    jobs = [Plain("raises"), Plain("dies"), Plain("after")]
    ended = {}
    try:
        for event in Scheduler(jobs, executor).run():  # type: ignore[arg-type]
            if isinstance(event, Finished | Failed):
                ended[event.job] = event
    finally:
        executor.stop()
    assert isinstance(ended["raises"], Failed) and "ValueError: no good" in ended["raises"].error
    assert isinstance(ended["dies"], Failed) and "worker process died" in ended["dies"].error
    assert isinstance(ended["after"], Finished) and ended["after"].result == "did after"


def lines_until(process: subprocess.Popen[str], marker: str, limit: float = 600) -> list[str]:
    """Read the process's output until a line holds `marker` (or it ends)."""
    seen: list[str] = []
    deadline = time.monotonic() + limit
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            break
    return seen


def test_an_interrupted_battery_keeps_what_finished_and_resumes(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "claims.json"
    command = [*bntui_command(), "claims", "gradients", "init", "--scale", "tiny", "--headless"]
    process = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=clean_env)  # fmt: skip
    seen = lines_until(process, "] cell ")
    assert any("] cell " in line for line in seen), seen
    process.send_signal(signal.SIGINT)
    said, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGINT  # as a run's (README "Exit codes")
    assert "SIGINT received, stopping the workers and saving" in said
    assert "resume with: bntui claims --resume" in err and "Traceback" not in err
    saved = load_claims(out)
    assert saved.status == "interrupted"
    assert saved.device  # what the cells trained on: the CPU here, the GPUs where there are
    assert saved.environment["keras"] and saved.environment["jax"]
    finished = saved.done()
    assert 1 <= len(finished) < len(saved.plan())
    before = {cid: cell.model_dump() for cid, cell in finished.items()}

    done = subprocess.run([*bntui_command(), "claims", "--resume", str(out), "--headless"],
                          capture_output=True, text=True, env=clean_env, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    left = len(saved.plan()) - len(finished)
    assert f"({left} to train)" in done.stdout
    resumed = load_claims(out)
    assert resumed.status == "completed"
    assert all(resumed.done()[cid].model_dump() == cell for cid, cell in before.items())
    assert [m.verdict is not None for m in measures(resumed)] == [True, True]
    for line in ("gradients ", "init "):
        assert any(row.startswith(line) for row in done.stdout.splitlines())
    # A finished file resumes to nothing, and is left as it was.
    finished = out.read_bytes()
    again = subprocess.run([*bntui_command(), "claims", "--resume", str(out), "--headless"],
                           capture_output=True, text=True, env=clean_env, timeout=300)  # fmt: skip
    assert again.returncode == 0 and "is complete" in again.stdout
    assert out.read_bytes() == finished


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["telepathy"], "unknown claim 'telepathy'"),
        (["--quick", "--full"], "--quick and --full exclude each other"),
        (["--report", "missing.json"], "missing.json"),
        (["--resume", "garbage.json"], "garbage.json is not valid JSON"),
        (["--out-dir", "x"], "--out-dir goes with --report"),
        (["--seed", "-1"], "--seed must be"),
        (["--resume", "older.json"], "resuming would mix two designs"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    (tmp_path / "garbage.json").write_text("{not json")
    older = json.loads((Path(__file__).parents[1] / "data" / "claims_tiny.json").read_text())
    older["status"] = "interrupted"
    older["cells"] = older["cells"][:-1]  # unfinished: a complete file has nothing to resume
    older["cells"][0]["spec"]["epochs"] += 1  # as an older bntui designed that cell
    (tmp_path / "older.json").write_text(json.dumps(older))
    result = subprocess.run([*bntui_command(), "claims", *args, "--headless"], cwd=tmp_path,
                            capture_output=True, text=True, env=clean_env, timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_closed_output_stops_and_saves_the_battery(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "claims.json"
    command = [*bntui_command(), "claims", "gradients", "--scale", "tiny", "--headless"]
    process = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=clean_env)  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().startswith("bntui claims:")
    process.stdout.close()  # as `| head -1` does
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1
    assert "the output was closed: the battery stopped" in err and "Traceback" not in err
    assert load_claims(out).status == "interrupted"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_stop_signals_save_the_battery_and_exit_128_plus_n(
    tmp_path: Path, clean_env: dict[str, str], sig: int
) -> None:
    out = tmp_path / "claims.json"
    command = [*bntui_command(), "claims", "gradients", "--scale", "tiny", "--headless"]
    process = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=clean_env)  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().startswith("bntui claims:")
    deadline = time.monotonic() + 120  # a bound against a hang, not a pace
    workers: list[int] = []
    while not workers and time.monotonic() < deadline:
        time.sleep(0.1)
        children = psutil.Process(process.pid).children(recursive=True)
        workers = [c.pid for c in children if "spawn_main" in " ".join(c.cmdline())]
    assert workers, "no worker process started"
    process.send_signal(sig)
    said, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, err
    assert f"{signal.Signals(sig).name} received, stopping the workers and saving" in said
    assert f"claims file saved to {out} (interrupted)" in said
    assert "resume with: bntui claims --resume" in err and "Traceback" not in err
    assert_gone(workers)
    saved = load_claims(out)
    assert saved.status == "interrupted"
    assert all(cell.status == "done" for cell in saved.cells)  # none blamed for the stop


def fails(job: Any, progress: Any) -> None:
    """A cell's work that raises, in a real worker process."""
    raise RuntimeError(f"{job.id} cannot train")


def test_a_failed_battery_exits_1(tmp_path: Path) -> None:
    from bntui.claims.outputs.headless import run_headless
    from bntui.claims.runner import BatteryRun

    out = tmp_path / "claims.json"
    executor = ProcessExecutor(fails, [{"_cores": ""}])
    run = BatteryRun(ClaimsFile(claims=["gradients"], scale="tiny", seed=42), out, executor)
    lines = io.StringIO()
    handlers = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    try:
        code = run_headless(run, lines)
    finally:  # headless takes the stop signals, then ignores them: give pytest its own back
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert code == 1
    said = lines.getvalue()
    assert "FAILED: RuntimeError: " in said and "cannot train" in said
    assert f"claims file saved to {out} (failed)" in said
    saved = load_claims(out)
    assert saved.status == "failed" and all(cell.status == "failed" for cell in saved.cells)
