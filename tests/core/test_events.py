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


def test_text_anywhere_in_an_event_is_cleaned_and_numbers_kept() -> None:
    """Lists of plain numbers (the images) pass as they are; a string among numbers, in a
    dict key or nested deeper is still cleaned."""
    image = [[0, 255, 17], [3, 4, 5]]
    event = TestResult(
        model="bn",
        t=1.0,
        loss=0.5,
        accuracy=0.5,
        confusion_matrix=[[1, 0], [0, 1]],
        predictions=[{"index": 0, "label\x1b[2J": 1, "notes": [1, "\x1b]0;owned\x07", 2.5]}],
        mistakes=[{"index": 1, "image": image, "deep": [[True, None, "\u202e"]]}],
    )
    assert event.mistakes[0]["image"] == image
    assert event.mistakes[0]["image"] is not image  # a copy: the caller's list is its own
    assert event.mistakes[0]["deep"] == [[True, None, "<U+202E>"]]
    prediction = event.predictions[0]
    assert prediction["notes"][0] == 1 and prediction["notes"][2] == 2.5
    assert "\x1b" not in json.dumps(prediction) and "\x07" not in prediction["notes"][1]
    assert "label^[[2J" in prediction
