"""The across-seed figures the dashboard draws: bands of any plotted metric, each seed's test
accuracy, and comparisons in few words (`bntui.stats.seedstats`)."""

from __future__ import annotations

from conftest import SMALL_RUN, SMALL_SEEDS

from bntui.record.runfile import load_run
from bntui.stats import seedcurves, seedstats


def test_bands_of_point_and_epoch_metrics_span_every_seed() -> None:
    run = load_run(SMALL_SEEDS)
    norms = seedcurves.step_band(run, "bn", "gradient_norm")
    assert len(norms.seeds) == 3 and len(norms.x) == len(norms.mean) > 0
    for i, (low, mean, high) in enumerate(zip(norms.low, norms.mean, norms.high)):
        values = [ys[i] for _, ys in norms.seeds if ys[i] is not None]
        assert low == min(values) and high == max(values)
        assert mean is not None and low <= mean <= high
    assert seedcurves.step_band(run, "bn", "loss") == seedcurves.band(run, "bn", "loss")
    val = seedcurves.epoch_band(run, "plain", "val_accuracy")
    assert val.x == [1.0, 2.0, 3.0]
    finals = [r.history.val_accuracy[-1] for r in run.records("plain")]
    assert val.high[-1] == max(v for v in finals if v is not None)


def test_each_seeds_test_accuracy_and_the_paired_difference() -> None:
    run = load_run(SMALL_SEEDS)
    rows = seedstats.test_rows(run)
    assert [row.seed for row in rows] == [42, 43, 44]
    for row, record in zip(rows, run.records("bn")):
        assert record.test is not None and row.bn == record.test.accuracy
        assert row.gap is not None and row.plain is not None
        assert abs(row.gap - (row.bn - row.plain)) < 1e-12
    found = seedstats.test_comparison(run)
    assert found is not None and found.label == "test acc"
    text = seedstats.brief(found)
    assert text.startswith("test acc +14.6 pts (95% CI +") and text.endswith("3 seeds)")
    val = seedstats.comparisons(run)[0]
    assert seedstats.brief(val).startswith("val acc +15.0 pts")  # the epoch said elsewhere


def test_one_seed_in_few_words_has_no_interval() -> None:
    run = load_run(SMALL_RUN)
    found = seedstats.comparisons(run)[0]
    assert (
        seedstats.brief(found)
        == f"val acc {found.number(found.interval.mean if found.interval else None)} pts"
    )


def test_epochs_to_the_target_in_a_run_of_one_seed_read_as_one_run() -> None:
    """One seed: the epoch itself, not a mean "4.0 epochs (1 of 1 seeds)"."""
    run = load_run(SMALL_RUN)
    history = run.seeds[0].models["bn"].history
    history.val_accuracy = [0.5, 0.9, 0.95][: len(history.val_accuracy)]
    run.seeds[0].models["plain"].history.val_accuracy = [0.5] * len(history.val_accuracy)
    texts = [found.text() for found in seedstats.comparisons(run)]
    reach = next(text for text in texts if text.startswith("epochs to"))
    assert "plain not reached; bn at epoch 2" in reach, reach
    assert "of 1 seeds" not in reach and "not reached in 1 seed" not in reach
