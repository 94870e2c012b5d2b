"""The event stream's lines: what a worker writes is what bntui reads back, strict JSON
whatever the numbers."""

from __future__ import annotations

import json

from bntui.core.events import EpochEnd, LayerStats, TestResult, parse_event


def test_an_event_line_reads_back_as_the_same_event() -> None:
    event = TestResult(
        model="bn",
        t=8.25,
        seed=1,
        loss=0.4017,
        accuracy=0.8571,
        confusion_matrix=[[3, 1], [0, 4]],
        predictions=[{"index": 0, "label": 9, "predicted": 9, "probabilities": [0.1, 0.9]}],
        pool_predicted=[9, 2],
        pool_confidence=[0.9, 0.55],
        mistakes=[{"index": 1, "label": 2, "predicted": 4, "image": [[0, 255], [17, 3]]}],
    )
    line = event.to_json()
    assert "\n" not in line
    assert parse_event(line) == event


def test_non_finite_numbers_at_any_depth_become_null() -> None:
    event = LayerStats(
        model="plain",
        t=1.5,
        position=0.2,
        layers=[{"name": "dense", "kind": "dense", "in_std": float("inf"), "dead": 0.25}],
    )
    data = json.loads(event.to_json())  # strict JSON: no NaN or Infinity tokens
    assert data["layers"] == [{"name": "dense", "kind": "dense", "in_std": None, "dead": 0.25}]
    epoch = json.loads(EpochEnd(model="bn", t=2.0, values={"loss": float("nan")}).to_json())
    assert epoch["values"] == {"loss": None} and epoch["type"] == "epoch"
