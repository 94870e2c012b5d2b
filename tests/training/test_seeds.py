"""Seeds: paired data order, vectorised training equal to one seed at a time, the interval
arithmetic against scipy, older files as one seed, and a real multi-seed run end to end."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SMALL_RUN_V2, SMALL_SEEDS, bntui_command
from scipy import stats

from bntui.core.events import Event
from bntui.core.spec import ExperimentSpec, SpecError, build_spec
from bntui.record.files import save_run
from bntui.record.runfile import load_run, parse_run
from bntui.stats.intervals import mean_interval, paired_interval
from bntui.stats.seedstats import comparisons, headline


class Collected:
    """Stands in for the worker's event pipe: keeps what the trainer emits."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def now(self) -> float:
        return 0.0

    def emit(self, event: Event) -> None:
        self.events.append(event)


def vectorised_training(spec: ExperimentSpec, key: str) -> tuple[Any, list[Event]]:
    """Train `spec`'s seeds of model `key` in this process, as a worker does."""
    pytest.importorskip("jax")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from bntui.training.data import load_splits
    from bntui.training.device import watch_backend_log
    from bntui.training.seedtrain import train_seeds
    from bntui.training.setting import Setting

    log = watch_backend_log()
    data = load_splits(spec.dataset, spec.validation_size, spec.limit)
    writer = Collected()
    stack = train_seeds(Setting(spec, key, writer, data, log, {}))
    return stack, writer.events


SMALL = ExperimentSpec(limit=200, epochs=2, inside_per_epoch=0, sample_count=2)


@pytest.mark.parametrize("key", ["plain", "bn"])
def test_vectorised_seeds_train_as_each_seed_alone(key: str) -> None:
    """Three seeds as one vmapped program end with the weights each seed reaches alone."""
    together, _ = vectorised_training(replace(SMALL, seeds=3), key)
    for index, seed in enumerate([42, 43, 44]):
        alone, _ = vectorised_training(replace(SMALL, seed=seed, seeds=1), key)
        for stacked, single in zip(together.state[0], alone.state[0]):
            np.testing.assert_allclose(
                np.asarray(stacked[index]), np.asarray(single[0]), rtol=2e-4, atol=2e-5
            )
        # BN's moving statistics too.
        for stacked, single in zip(together.state[1], alone.state[1]):
            np.testing.assert_allclose(
                np.asarray(stacked[index]), np.asarray(single[0]), rtol=2e-4, atol=2e-5
            )
    # The seeds really differ (else the test above would prove nothing).
    first = np.asarray(together.state[0][0])
    assert not np.allclose(first[0], first[1])


def test_seed_k_of_both_models_sees_the_same_data_order() -> None:
    """The digests the trainer reports per epoch: equal across models, seed by seed, and
    different between seeds and epochs."""
    orders: dict[str, dict[tuple[int, int], str]] = {}
    for key in ("plain", "bn"):
        _, events = vectorised_training(replace(SMALL, seeds=2), key)
        orders[key] = {(e.seed, e.epoch): e.data_order for e in events if e.kind == "epoch"}
    assert orders["plain"] == orders["bn"]
    assert len(orders["plain"]) == 4 and all(orders["plain"].values())
    assert len(set(orders["plain"].values())) == 4


def test_the_recorded_multi_seed_run_is_paired() -> None:
    run = load_run(SMALL_SEEDS)
    assert [entry.seed for entry in run.seeds] == [42, 43, 44]
    for entry in run.seeds:
        plain, bn = entry.models["plain"], entry.models["bn"]
        assert plain.data_order == bn.data_order and len(plain.data_order) == 3
    assert run.seeds[0].models["plain"].data_order != run.seeds[1].models["plain"].data_order


def test_paired_interval_is_scipys_paired_t_interval() -> None:
    plain = [0.821, 0.834, 0.829, 0.817, 0.826]
    bn = [0.853, 0.861, 0.849, 0.858, 0.851]
    found = paired_interval(plain, bn)
    assert found is not None and found.n == 5
    expected = stats.ttest_rel(bn, plain).confidence_interval(0.95)
    assert found.low == pytest.approx(expected.low)
    assert found.high == pytest.approx(expected.high)
    assert found.mean == pytest.approx(np.mean(np.subtract(bn, plain)))
    assert found.excludes_zero


def test_mean_interval_uses_t_with_n_minus_one_degrees_of_freedom() -> None:
    values = [1.0, 2.0, 4.0]
    found = mean_interval(values)
    assert found is not None
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
    assert (found.low, found.high) == pytest.approx((7 / 3 - half, 7 / 3 + half))
    one = mean_interval([0.5])
    assert one is not None and one.n == 1 and not one.has_interval
    assert mean_interval([]) is None
    same = mean_interval([0.25, 0.25, 0.25])
    assert same is not None and same.low == same.high == 0.25
    # Seeds without a value (a failed seed) are left out of the pairs.
    assert paired_interval([0.1, None, 0.3], [0.2, 0.5, None]).n == 1  # type: ignore[union-attr]


def test_one_seed_says_no_interval_can_be_given() -> None:
    run = load_run(SMALL_RUN_V2)
    text = headline(run)
    assert text is not None and "no interval can be given" in text
    assert all(c.interval is None or not c.interval.has_interval for c in comparisons(run))


def test_schema_2_files_load_as_one_seed(tmp_path: Path) -> None:
    data = json.loads(SMALL_RUN_V2.read_text())
    assert data["schema_version"] == 2 and "seeds" not in data
    run = load_run(SMALL_RUN_V2)
    assert len(run.seeds) == 1 and run.seeds[0].seed == data["spec"]["seed"]
    assert (
        run.models["bn"].history.column("val_accuracy")
        == (data["models"]["bn"]["history"]["val_accuracy"])
    )
    path, _ = save_run(run, tmp_path / "again.json")
    again = json.loads(path.read_text())
    assert "seeds" in again and "models" not in again
    assert load_run(path) == run


def test_seeds_must_match_the_spec() -> None:
    data = json.loads(SMALL_SEEDS.read_text())
    data["seeds"] = data["seeds"][:2]
    with pytest.raises(Exception, match="seeds must be the spec's 3 seed"):
        parse_run(json.dumps(data).encode())
    with pytest.raises(SpecError, match="--seeds"):
        build_spec(seeds=0)
    with pytest.raises(SpecError, match="--seeds"):
        build_spec(seeds=65)
    assert not build_spec(seeds=3, backend="tensorflow").vectorised
    assert build_spec(seeds=3).vectorised and not build_spec().vectorised


def test_a_real_multi_seed_run_end_to_end(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """`bntui run --seeds 2 --headless`: both models, both seeds, paired, with intervals."""
    out = tmp_path / "seeds.json"
    result = subprocess.run(
        [*bntui_command(), "run", "--headless", "--seeds", "2", "--limit", "400",
         "--epochs", "2", "--inside", "0", "--out", str(out)],
        env=clean_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    run = load_run(out)
    assert run.status == "completed" and [entry.seed for entry in run.seeds] == [42, 43]
    for entry in run.seeds:
        for key in ("plain", "bn"):
            record = entry.models[key]
            assert record.status == "completed"
            assert len(record.history.column("val_accuracy")) == 2
            assert record.test is not None and record.test.accuracy is not None
            assert len(record.curve.t) >= 2
        assert entry.models["plain"].data_order == entry.models["bn"].data_order
    assert "paired over 2 seeds" in result.stdout
    assert "95% CI" in (headline(run) or "")


def test_seeds_fall_back_to_one_after_another(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """With the seeds' callbacks (Keras' `fit`) each worker trains its seeds in turn: every
    seed is still recorded, each with its own checkpoint file."""
    out, folder = tmp_path / "turns.json", tmp_path / "ckpt"
    result = subprocess.run(
        [*bntui_command(), "run", "--headless", "--seeds", "2", "--limit", "300",
         "--epochs", "2", "--inside", "0", "--checkpoint", str(folder), "--out", str(out)],
        env=clean_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    run = load_run(out)
    assert not run.spec.vectorised and [entry.seed for entry in run.seeds] == [42, 43]
    for entry in run.seeds:
        for key in ("plain", "bn"):
            assert entry.models[key].status == "completed"
            assert len(entry.models[key].history.column("loss")) == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "bn-seed42.keras", "bn-seed43.keras", "plain-seed42.keras", "plain-seed43.keras",
    ]  # fmt: skip


def test_pairing_is_checked_from_the_recorded_digests() -> None:
    from bntui.outputs.summary import summary_lines
    from bntui.stats.seedstats import pairing, unpaired_seeds

    run = load_run(SMALL_SEEDS)
    assert unpaired_seeds(run) == [] and "checked" in pairing(run)
    data = json.loads(SMALL_SEEDS.read_text())
    data["seeds"][0]["models"]["bn"]["data_order"][1] = "0000000000000000"
    edited = parse_run(json.dumps(data).encode())
    assert unpaired_seeds(edited) == [42]
    assert "NOT PAIRED: seed 42" in "\n".join(summary_lines(edited))
    one = load_run(SMALL_RUN_V2)
    assert "not recorded" in pairing(one)


def test_epochs_to_target_keeps_each_models_figure_when_pairs_are_missing() -> None:
    run = load_run(Path(__file__).parents[2] / "sample_runs" / "fashion-sgd-5-seeds.json")
    reach = next(c for c in comparisons(run) if c.label.startswith("epochs to"))
    bn = [
        next(i + 1 for i, a in enumerate(r.history.column("val_accuracy")) if a >= 0.85)
        for r in run.records("bn")
    ]
    assert reach.text() == (
        f"epochs to 85% val acc: plain not reached in 5 seeds; bn {sum(bn) / 5:.1f} epochs "
        "(5 of 5 seeds)"
    )


def test_a_run_cut_short_is_interrupted_not_completed() -> None:
    from bntui.core.events import ModelDone
    from bntui.record.recorder import RunRecorder

    recorder = RunRecorder(replace(ExperimentSpec(), seeds=2))
    for seed in (0, 1):
        recorder.apply(ModelDone(model="plain", t=1.0, seed=seed, status="completed"))
    recorder.apply(ModelDone(model="bn", t=1.0, seed=0, status="completed"))
    assert recorder.finish().status == "interrupted"  # bn's seed 43 never ended


def test_one_value_says_n_1_instead_of_an_interval() -> None:
    from bntui.stats.seedstats import plus_minus

    assert plus_minus(mean_interval([0.4862])) == "0.4862 (n=1)"
    assert plus_minus(mean_interval([1.0, 2.0, 4.0]), 2, spaced=True).startswith("2.33 ± ")
