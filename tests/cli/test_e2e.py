"""Real training in real worker processes, real signals: nothing lost, nothing left behind."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from conftest import assert_gone, bntui_command
from screen import replay_to_end

from bntui.core.events import AWAIT_JOB
from bntui.outputs.export import curve_csv
from bntui.record.recorder import RunRecorder, empty_like
from bntui.record.replay import events_from_run
from bntui.record.runfile import RunFile, load_run
from bntui.record.sweep import SweepFile, load_document
from bntui.session.sessions import ReplaySession
from bntui.tui.app import BntuiApp
from bntui.tui.widgets.chart import LineChart

pytestmark = pytest.mark.slow


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*bntui_command(), "run", "--headless", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def run_to_end(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `bntui run --headless ARGS` to completion."""
    return subprocess.run(
        [*bntui_command(), "run", "--headless", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def wait_for_line(proc: subprocess.Popen[str], *needles: str, timeout: float = 120) -> list[str]:
    """Read output until lines containing each of `needles` (in any order) have appeared."""
    assert proc.stdout is not None
    seen: list[str] = []
    missing = set(needles)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        missing = {needle for needle in missing if needle not in line}
        if not missing:
            return seen
    raise AssertionError(f"{sorted(missing)!r} never appeared in:\n{''.join(seen)}")


def workers_of(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(proc.pid).children(recursive=True)
        if p.cmdline()[1:3] == ["-m", "bntui.training"]
    ]


def test_headless_run_trains_both_models_for_real(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "run.json"
    result = run_to_end(["--limit", "2000", "--epochs", "2", "--out", str(out)], clean_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"run saved to {out}" in result.stdout
    run = load_run(out)
    assert run.status == "completed"
    plain, bn = run.models["plain"], run.models["bn"]
    assert plain.summary and plain.summary.total_params == 266_610
    assert bn.summary and bn.summary.total_params == 271_346
    assert bn.summary.non_trainable_params == 2_368
    for record in (plain, bn):
        assert record.status == "completed"
        assert len(record.history.loss) == len(record.history.val_accuracy) == 2
        per_epoch = [record.curve.epoch.count(e) for e in range(2)]
        assert min(per_epoch) >= 20, per_epoch
        assert record.test is not None and 0.1 < (record.test.accuracy or 0) <= 1
        assert sum(map(sum, record.test.confusion_matrix)) == 10_000
        assert len(record.test.predictions) == 8
        # Schema 4: a guess for each of the first 200 test images, and the first mistakes
        # among them with their pixels, each a mistake by those guesses.
        pool = record.test.pool_predicted
        assert len(pool) == len(record.test.pool_confidence) == 200
        assert 0 < len(record.test.mistakes) <= 8
        for mistake in record.test.mistakes:
            assert pool[mistake.index] == mistake.predicted != mistake.label
            assert len(mistake.image) == 28
        # Training improves on chance: the loss falls within the epoch curve.
        assert record.curve.loss[-1] < record.curve.loss[0]  # type: ignore[operator]
        # The global gradient norm of the step before each curve point (bntui.core.metrics).
        norms = record.curve.column("gradient_norm")
        assert len(norms) == len(record.curve.t) and all(g is not None and g > 0 for g in norms)
        # Layer statistics: before training, then 5 times per epoch.
        assert len(record.inside.position) == 1 + 2 * 5
        grads = record.inside.layers[-1].stats["grad_norm"]
        assert all(g is not None and g > 0 for g in grads)
    assert run.dataset and run.dataset.train_size == 2000
    # Live load was sampled each second, and when each model was ready and tested, so even
    # a run shorter than a second sees both workers' CPU and memory with the model loaded.
    assert len(run.system.t) >= 2
    for key in ("plain", "bn"):
        assert max(v or 0 for v in run.system.series[f"{key}.rss_mb"]) > 100
        assert max(v or 0 for v in run.system.series[f"{key}.cpu_pct"]) > 10
    assert len(run.dataset.sample_images[0]) == 28
    # The new metric end to end: replayed into the dashboard (m: loss → acc → ‖∇‖), exported.
    asyncio.run(show_gradient_norms(run))
    header, first = curve_csv([run]).splitlines()[:2]
    assert "gradient_norm" in header.split(",") and "interval_loss" in header.split(",")
    value = first.split(",")[header.split(",").index("gradient_norm")]
    assert float(value) == plain.curve.column("gradient_norm")[0]


async def show_gradient_norms(run: RunFile) -> None:
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("m", "m")
        charts = [app.screen.query_one(f"#chart-{key}", LineChart) for key in ("plain", "bn")]
        assert [c.legend for c in charts] == ["‖∇‖ train", "‖∇‖ train"]
        assert charts[0].axis_labels() == charts[1].axis_labels()  # one scale
        for chart, key in zip(charts, ("plain", "bn")):
            assert chart.series[0].ys == run.models[key].curve.column("gradient_norm")


def test_workers_own_their_cores_and_reuse_compiled_steps(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    env = {**clean_env, "BNTUI_CACHE_DIR": str(tmp_path / "cache")}
    args = ["--limit", "1000", "--epochs", "1"]
    proc = start([*args, "--out", str(tmp_path / "first.json")], env)
    wait_for_line(proc, "ready:")
    workers = {'"model": "plain"' in w.cmdline()[-1]: w.cpu_affinity() for w in workers_of(proc)}
    # The run's workers are those bntui spawned before it parsed its command line, at a
    # lower priority than bntui's own process from their start.
    assert all(AWAIT_JOB in w.cmdline() for w in workers_of(proc))
    assert {w.nice() for w in workers_of(proc)} == {psutil.Process(proc.pid).nice() + 5}
    own = {tuple(psutil.Process(t.id).cpu_affinity()) for t in psutil.Process(proc.pid).threads()}
    assert proc.wait(timeout=300) == 0
    cores = sorted(tuple(c) for c in workers.values())
    if len(os.sched_getaffinity(0)) >= 2:
        # Each worker pinned to a core of its own, not both spread over every core.
        assert len(cores) == 2 and all(len(c) == 1 for c in cores) and cores[0] != cores[1]
        # bntui's own threads share the plain worker's core, off the slower BN worker's.
        assert own == {tuple(workers[True])}
    compiled = list((tmp_path / "cache" / "jax-compile").iterdir())
    assert compiled, "no compiled steps were cached"
    result = run_to_end([*args, "--out", str(tmp_path / "second.json")], env)
    assert result.returncode == 0, result.stdout
    # Steps loaded from the cache compute what freshly compiled ones did.
    first, second = load_run(tmp_path / "first.json"), load_run(tmp_path / "second.json")
    for key in ("plain", "bn"):
        assert first.models[key].history.loss == second.models[key].history.loss
        assert first.models[key].test == second.models[key].test


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stop_signals_save_an_interrupted_run(
    tmp_path: Path, clean_env: dict[str, str], sig: int
) -> None:
    out = tmp_path / "run.json"
    proc = start(["--limit", "3000", "--epochs", "200", "--out", str(out)], clean_env)
    # Both models have curve points (each worker has a core of its own, so either may lead).
    wait_for_line(proc, "[plain] epoch   1/200", "[   bn] epoch   1/200")
    pids = [p.pid for p in workers_of(proc)]
    assert len(pids) == 2
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, rest
    assert "received, stopping the workers and saving" in rest
    assert_gone(pids)
    run = load_run(out)
    assert run.status == "interrupted"
    for record in run.models.values():
        assert record.status == "interrupted"
        assert len(record.curve.t) > 0
    assert max(len(r.history.loss) for r in run.models.values()) >= 1


def test_second_ctrl_c_while_saving_keeps_the_file_whole(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "run.json"
    proc = start(["--limit", "3000", "--epochs", "200", "--out", str(out)], clean_env)
    wait_for_line(proc, "epoch   1/200")
    for _ in range(5):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert load_run(out).status == "interrupted"


def test_a_killed_worker_fails_alone(tmp_path: Path, clean_env: dict[str, str]) -> None:
    out = tmp_path / "run.json"
    proc = start(["--limit", "2000", "--epochs", "25", "--out", str(out)], clean_env)
    wait_for_line(proc, "[   bn] epoch   1/25")
    bn = [p for p in workers_of(proc) if '"model": "bn"' in " ".join(p.cmdline())]
    assert len(bn) == 1
    bn[0].kill()
    rest, _ = proc.communicate(timeout=180)
    assert proc.returncode == 1, rest
    run = load_run(out)
    assert run.status == "failed"
    assert run.models["bn"].status == "failed"
    assert "SIGKILL" in (run.models["bn"].error or "")
    assert run.models["plain"].status == "completed"
    assert len(run.models["plain"].history.loss) == 25
    assert "[   bn] failed: worker process killed by SIGKILL" in rest


@pytest.mark.parametrize(("backend", "keep_going"), [("jax", False), ("tensorflow", True)])
def test_divergence_is_recorded_as_strict_json(
    tmp_path: Path, clean_env: dict[str, str], backend: str, keep_going: bool
) -> None:
    """lr 10 makes the loss explode, then (TensorFlow, kept going) become NaN."""
    out = tmp_path / "run.json"
    extra = ["--keep-going"] if keep_going else []
    args = ["--limit", "2000", "--epochs", "3", "--lr", "10", "--backend", backend, *extra]
    result = run_to_end([*args, "--out", str(out)], clean_env)
    assert result.returncode == 0, result.stdout
    json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    run = load_run(out)
    assert run.models["plain"].status == "diverged", result.stdout
    assert "[plain] diverged" in result.stdout
    curve, history = run.models["plain"].curve, run.models["plain"].history
    if keep_going:
        assert len(history.loss) == 3
        assert None in curve.loss and None in history.loss  # NaN written as null
    else:
        assert len(curve.t) < 3 * 25  # stopped at the first sign


def test_missing_data_gives_one_clear_message(tmp_path: Path, clean_env: dict[str, str]) -> None:
    env = clean_env | {
        "KERAS_HOME": str(tmp_path / "keras"),
        "BNTUI_DATASETS_DIR": str(tmp_path / "none"),
    }
    out = tmp_path / "run.json"
    result = run_to_end(["--limit", "100", "--epochs", "1", "--out", str(out)], env)
    assert result.returncode == 1
    # The reason once (both models fail for it), and no figure of 0.00 for what never ran.
    assert result.stdout.count("apt-get install dataset-fashion-mnist") == 1, result.stdout
    assert "Plain MLP failed, MLP + BatchNorm failed (the reason above)" in result.stdout
    assert not re.search(r"(?<![\d.])0\.00(?!\d)", result.stdout), result.stdout
    assert "Traceback" not in result.stdout
    # The summary's header says how it ended and claims no data it never loaded.
    assert "bntui run · failed ·" in result.stdout, result.stdout
    assert "fashion_mnist · data not loaded" in result.stdout, result.stdout
    assert "training images" not in result.stdout and "s/epoch" not in result.stdout
    # Nothing trained, so nothing is saved (README, "Exit codes"), and the last line says so.
    assert not out.exists()
    assert "nothing saved: no model trained a step" in result.stdout + result.stderr


def test_mnist_from_the_keras_cache(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """MNIST has no offline source: a small file in Keras' own cache format stands in."""
    np = pytest.importorskip("numpy")
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 6000).astype("uint8")
    # Images whose brightness encodes the label, so the models can learn something.
    images = (rng.random((6000, 28, 28)) * 40 + labels[:, None, None] * 20).astype("uint8")
    np.savez(
        cache / "mnist.npz",
        x_train=images,
        y_train=labels,
        x_test=images[:1000],
        y_test=labels[:1000],
    )
    out = tmp_path / "run.json"
    env = clean_env | {"KERAS_HOME": str(tmp_path / "keras")}
    args = ["--preset", "mnist-adam", "--limit", "1000", "--epochs", "2", "--inside", "0"]
    result = run_to_end([*args, "--out", str(out)], env)
    assert result.returncode == 0, result.stdout + result.stderr
    run = load_run(out)
    assert run.spec.dataset == "mnist" and run.spec.optimizer == "adam"
    assert run.dataset and run.dataset.class_names[3] == "3"
    assert run.models["bn"].summary and run.models["bn"].summary.non_trainable_params == 800
    assert run.models["bn"].test and run.models["bn"].test.accuracy is not None
    assert run.models["bn"].inside.position == []  # --inside 0 switches the probe off


def test_sweep_trains_each_batch_size_and_stops_cleanly(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "sweep.json"
    args = ["--preset", "fashion-sgd", "--batch-sizes", "128,512", "--limit", "1000"]
    result = subprocess.run(
        [*bntui_command(), "sweep", "--headless", *args, "--epochs", "2", "--out", str(out)],
        capture_output=True, text=True, env=clean_env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[batch  512] [   bn] completed" in result.stdout
    sweep = load_document(str(out))
    assert isinstance(sweep, SweepFile) and sweep.status == "completed"
    assert [r.models["bn"].curve.steps[0] for r in sweep.runs] == [8, 2]
    # Ctrl-C during the first size: the sweep is saved as interrupted, the second never runs.
    out2 = tmp_path / "stopped.json"
    proc = subprocess.Popen(
        [*bntui_command(), "sweep", "--headless", *args, "--epochs", "500", "--out", str(out2)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env,
    )  # fmt: skip
    wait_for_line(proc, "[batch  128] [   bn] epoch   1/500")
    pids = [p.pid for p in workers_of(proc)]
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, rest
    assert_gone(pids)
    stopped = load_document(str(out2))
    assert isinstance(stopped, SweepFile) and stopped.status == "interrupted"
    assert stopped.runs[0].models["bn"].history.loss
    assert stopped.runs[1].models["bn"].curve.t == []


def test_seed_callbacks_early_stopping_checkpoint_tensorboard(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "run.json"
    args = ["--preset", "fashion-sgd-lr0.01", "--limit", "500", "--epochs", "60"]
    args += ["--early-stopping", "1", "--checkpoint", str(tmp_path / "ckpt")]
    args += ["--tensorboard", str(tmp_path / "tb"), "--inside", "0", "--out", str(out)]
    result = run_to_end(args, clean_env)
    assert result.returncode == 0, result.stdout + result.stderr
    run = load_run(out)
    for key in ("plain", "bn"):
        record = run.models[key]
        stops = [n for n in record.notes if n.what == "early_stopping"]
        assert len(stops) == 1, record.notes
        epochs = len(record.history.loss)
        assert epochs < 60 and stops[0].epoch == epochs - 1
        assert "early stop after epoch" in result.stdout
        assert any(n.what == "checkpoint" for n in record.notes)
        assert (tmp_path / "ckpt" / f"{key}.keras").stat().st_size > 0
        assert list((tmp_path / "tb" / key).rglob("events.out.tfevents.*"))
    # Replay re-enacts the notes: events → record gives the same notes back.
    rebuilt = RunRecorder(run.spec, empty_like(run))
    for event in events_from_run(run):
        rebuilt.apply(event)
    assert rebuilt.run.models["bn"].notes == run.models["bn"].notes


def test_headless_run_of_two_seeds_prints_each_seed_and_intervals(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    out = tmp_path / "run.json"
    args = ["--seeds", "2", "--limit", "1000", "--epochs", "2", "--inside", "0"]
    result = run_to_end([*args, "--out", str(out)], clean_env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    ready = [line for line in lines if " ready" in line]
    assert len(ready) == 2 and all("ready (2 seeds)" in line for line in ready)
    for tag in ("[plain s42]", "[plain s43]", "[   bn s42]", "[   bn s43]"):
        assert sum(line.startswith(f"{tag} epoch") for line in lines) == 2, tag
    assert "2 seeds of each model trained as one vectorised program (jax.vmap)" in lines
    # The summary folds its long lines to 80 columns: read it as words.
    words = " ".join(result.stdout.split())
    assert "BN − plain val acc at epoch 2: " in words
    assert "paired over 2 seeds) BN − plain test acc" in words
    assert [entry.seed for entry in load_run(out).seeds] == [42, 43]


def test_closed_output_stops_saves_and_says_so(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """`bntui run --headless | head -1`: the reader goes away; bntui stops the training,
    saves it as interrupted and says so on stderr, never claiming it completed."""
    out = tmp_path / "piped.json"
    proc = subprocess.Popen(
        [*bntui_command(), "run", "--headless", "--limit", "2000", "--epochs", "50",
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does once it has its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1
    assert "the output was closed" in err and "(interrupted)" in err
    assert load_run(out).status == "interrupted"
