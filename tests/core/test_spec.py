"""The experiment spec: presets match EXPERIMENTS.md and bad values are refused clearly."""

from __future__ import annotations

from typing import Any

import pytest

from bntui.core.spec import PRESETS, ExperimentSpec, SpecError, build_spec


def test_default_is_the_headline_experiment() -> None:
    spec = build_spec()
    assert (spec.dataset, spec.optimizer, spec.learning_rate) == ("fashion_mnist", "sgd", 1e-3)
    assert (spec.batch_size, spec.epochs, spec.seed) == (32, 10, 42)
    assert spec.train_size == 55_000
    assert spec.steps_per_epoch == 1_719


def test_presets_reproduce_the_seeds() -> None:
    assert PRESETS["fashion-sgd-lr0.01"].spec.learning_rate == 0.01
    mnist = PRESETS["mnist-adam"].spec
    assert (mnist.dataset, mnist.optimizer, mnist.batch_size, mnist.architecture) == (
        "mnist", "adam", 64, "mnist"
    )  # fmt: skip


def test_options_override_a_preset() -> None:
    spec = build_spec("mnist-adam", epochs=3, limit=1000, learning_rate=None)
    assert (spec.epochs, spec.limit, spec.batch_size) == (3, 1000, 64)
    assert spec.train_size == 1000


def test_fused_steps_still_give_a_live_curve() -> None:
    spec = build_spec()
    per_call = spec.effective_steps_per_execution()
    assert per_call > 1
    assert spec.steps_per_epoch / per_call >= spec.curve_points_per_epoch  # a call per point
    assert build_spec(faithful=True).effective_steps_per_execution() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": 0}, "--epochs must be a positive"),
        ({"epochs": -3}, "--epochs must be a positive"),
        ({"batch_size": 0}, "--batch-size must be a positive"),
        ({"learning_rate": 0.0}, "--lr must be a positive"),
        ({"learning_rate": -1.0}, "--lr must be a positive"),
        ({"learning_rate": float("nan")}, "--lr must be a positive"),
        ({"limit": 0}, "--limit must be a positive"),
        ({"limit": 55_001}, "beyond the data"),
        ({"dataset": "cifar"}, "unknown dataset 'cifar'"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
    ],
)
def test_bad_values_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        build_spec("fashion-sgd", **overrides)


def test_unknown_preset() -> None:
    with pytest.raises(SpecError, match="unknown preset 'nope'"):
        build_spec("nope")


def test_round_trip_ignores_unknown_keys() -> None:
    spec = build_spec(limit=500)
    data = spec.to_dict() | {"added_in_a_later_version": True}
    assert ExperimentSpec.from_dict(data) == spec
