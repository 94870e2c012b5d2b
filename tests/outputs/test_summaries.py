"""Headless summaries read in an 80-column terminal: tables laid out for it, bntui's own
long lines folded, a failure's reason said once, and the plain columns labelled."""

from __future__ import annotations

import json

from conftest import SMALL_RUN, SMALL_SEEDS, SMALL_SWEEP
from hostile import check_lines

from bntui.outputs.headless import compare_lines, summary_lines, sweep_lines
from bntui.outputs.summary import ONLY_EPOCH_NOTE, SPEED_NOTE, speed_note
from bntui.record.runfile import RunFile, load_run
from bntui.record.sweep import SweepFile, load_document, parse_document

WHY = "MNIST is not on this machine and could not be downloaded."


def failed_sweep() -> SweepFile:
    """The recorded small sweep with every model of every batch size failed for one reason."""
    data = json.loads(SMALL_SWEEP.read_text())
    for run in data["runs"]:  # a schema 2 run: its models at the top
        for model in run["models"].values():
            model |= {"status": "failed", "error": WHY}
    sweep = parse_document(json.dumps(data).encode(), "failed sweep")
    assert isinstance(sweep, SweepFile)
    return sweep


def test_every_summary_fits_80_columns() -> None:
    seeds, one = load_run(SMALL_SEEDS), load_run(SMALL_RUN)
    sweep = load_document(str(SMALL_SWEEP))
    assert isinstance(sweep, SweepFile)
    for lines in (
        summary_lines(one),
        summary_lines(seeds),
        sweep_lines(sweep),
        compare_lines([seeds, one], ["A", "B"], ["a", "b"]),
    ):
        assert max(len(line) for line in lines) <= 80, "\n".join(lines)
        check_lines("\n".join(lines))
        text = "\n".join(lines)
        assert "BN-plain" not in text and "BN−plain" not in text  # one spelling: BN − plain


def test_the_plain_columns_are_labelled() -> None:
    sweep = load_document(str(SMALL_SWEEP))
    assert isinstance(sweep, SweepFile)
    header = next(line for line in sweep_lines(sweep) if line.lstrip().startswith("batch"))
    assert "≥60% p/BN" in header and "s/ep p/BN" in header
    compared = compare_lines([load_run(SMALL_SEEDS), load_run(SMALL_RUN)], ["A", "B"], ["a", "b"])
    assert any("test p/BN" in line for line in compared)
    assert any("p/BN: plain/BN" in line for line in compared)  # the note says what p/BN is


def test_a_sweep_that_failed_says_why_once() -> None:
    sweep = failed_sweep()
    fresh = sweep_lines(sweep)
    assert sum(WHY in line for line in fresh) == 1
    assert f"all 4 models failed: {WHY}" in fresh  # two batch sizes, two models each
    # Printed already as the first progress line: named, not repeated.
    again = sweep_lines(sweep, {WHY})
    assert "all 4 models failed (the reason above)" in again
    assert not any(WHY in line for line in again)


def cut_to_one_epoch(keys: tuple[str, ...]) -> RunFile:
    """The recorded small run with models `keys` cut to their first epoch."""
    data = json.loads(SMALL_RUN.read_text())
    for key in keys:
        history = data["seeds"][0]["models"][key]["history"]
        for column in history:
            history[column] = history[column][:1]
    run = parse_document(json.dumps(data).encode(), "one epoch")
    assert isinstance(run, RunFile)
    return run


def test_the_speed_note_is_true_of_a_one_epoch_run() -> None:
    # Three epochs each: the median of the later ones.
    assert speed_note(load_run(SMALL_RUN)) == SPEED_NOTE
    # One epoch each: s/ep is that epoch, and the note says so (it said "after the first").
    one = summary_lines(cut_to_one_epoch(("plain", "bn")))
    assert ONLY_EPOCH_NOTE in one and SPEED_NOTE not in "\n".join(one)
    rows = [line.split() for line in one if line.startswith(("Plain MLP", "MLP + BatchNorm"))]
    assert rows and all(row[-1] == row[-2] for row in rows)  # s/ep and 1st: the same epoch
    # One model cut short: the note covers both kinds.
    assert speed_note(cut_to_one_epoch(("bn",))).endswith("a model that ran one epoch: that epoch")
