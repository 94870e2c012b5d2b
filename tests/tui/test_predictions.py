"""The Results tab's prediction cards show mistakes: of the test set's first images, those
one model gets wrong and the other right, then those both get wrong (schema 4), by a rule the
tab states; a file from before it shows its recorded samples as it always did."""

from __future__ import annotations

import json
from typing import Any

from conftest import SMALL_RUN
from screen import replay_to_end, text_of

from bntui.record.runfile import SCHEMA_VERSION, RunFile, parse_run
from bntui.session.sessions import ReplaySession
from bntui.tui.app import BntuiApp
from bntui.tui.widgets.results import predictions_caption, shown_samples

POOL = 20
# Which of the first POOL test images each model gets wrong.
WRONG = {"plain": [3, 5, 9], "bn": [5, 12]}


def pooled_run() -> RunFile:
    """The small run as a schema-4 file whose models recorded their guesses on the first
    POOL test images and their mistakes among them (the recorded samples, the first 8,
    agree with those guesses)."""
    data: dict[str, Any] = json.loads(SMALL_RUN.read_text())
    data["schema_version"] = SCHEMA_VERSION
    dataset = data["dataset"]
    labels = dataset["sample_labels"] + [2] * (POOL - len(dataset["sample_labels"]))
    for key, wrong in WRONG.items():
        test = data["seeds"][0]["models"][key]["test"]
        predicted = [(label + 1) % 10 if i in wrong else label for i, label in enumerate(labels)]
        for i, prediction in enumerate(test["predictions"]):
            prediction["predicted"] = predicted[i]
        test["pool_predicted"] = predicted
        test["pool_confidence"] = [0.9] * POOL
        test["mistakes"] = [
            {"index": i, "label": labels[i], "predicted": predicted[i],
             "image": dataset["sample_images"][0],
             "probabilities": [0.9 if c == predicted[i] else 0.01 for c in range(10)]}
            for i in wrong
        ]  # fmt: skip
    return parse_run(json.dumps(data).encode())


def test_the_rule_puts_disagreements_first_then_shared_mistakes() -> None:
    run = pooled_run()
    shown = shown_samples(run)
    assert [s.index for s in shown[:4]] == [3, 9, 12, 5]
    assert [s.right() for s in shown[:4]] == [[False, True], [False, True], [True, False],
                                               [False, False]]  # fmt: skip
    # Then the recorded samples (the test set's first 8) not shown yet, up to 8 cards.
    assert [s.index for s in shown[4:]] == [0, 1, 2, 4]
    caption = predictions_caption(run)
    assert "of the test set's first 20 images, those one model gets wrong" in caption
    assert "3 of them tell the models apart; both models get 1 wrong." in caption
    assert all(s.group() == 2 for s in shown[4:])  # both right


def test_an_older_file_shows_its_recorded_samples(small_run: RunFile) -> None:
    assert small_run.schema_version < 4
    assert sorted(s.index for s in shown_samples(small_run)) == list(range(8))
    assert "this file predates recorded mistakes" in predictions_caption(small_run)


async def test_the_results_tab_shows_a_mistake() -> None:
    app = BntuiApp(ReplaySession(pooled_run(), speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("4")
        await pilot.pause()
        first = text_of(app.screen.query_one("#prediction-0"))
        names = app.session.run.dataset.class_names  # type: ignore[union-attr]
        label = app.session.run.dataset.sample_labels[3]  # type: ignore[union-attr]
        wrong = names[(label + 1) % 10]
        assert f"#3 true: {names[label]}" in first
        assert f"plain: {wrong} 0.90 ✗" in first and f"bn: {names[label]} 0.90 ✓" in first
        caption = " ".join(text_of(app.screen.query_one("#confusion-bn")).split())
        assert "3 of them tell the models apart" in caption
