"""At 60x20 and 80x24 the numbers people came for are on screen whole: where a line is too
narrow, its words give way (labels, notes, a progress bar), not its digits."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from screen import replay_to_end

from bntui.core.text import fmt
from bntui.record.runfile import load_run
from bntui.session.sessions import ReplaySession
from bntui.stats.figures import best, epoch_times
from bntui.tui.app import BntuiApp
from bntui.tui.widgets.info_panels import experiment_parts

SAMPLE_RUNS = Path(__file__).resolve().parents[2] / "sample_runs"
SIZES = [(60, 20), (80, 24)]


def on_screen(app: BntuiApp) -> str:
    """The characters on the terminal now, line by line (what a person sees)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def drawn(app: BntuiApp, selector: str) -> str:
    """What a widget draws in its own width (a table below the fold included)."""
    widget = app.screen.query_one(selector)
    console = Console(width=widget.size.width, file=io.StringIO(), record=True)
    console.print(getattr(widget, "content", ""))
    return console.export_text()


@pytest.mark.parametrize("size", SIZES)
async def test_the_training_figures_are_whole(size: tuple[int, int]) -> None:
    run = load_run(SAMPLE_RUNS / "fashion-sgd-default.json")
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=size) as pilot:
        await replay_to_end(app, pilot)
        screen = on_screen(app)
        for key in ("plain", "bn"):
            h = run.models[key].history
            for value in (h.val_loss[-1], h.val_accuracy[-1], best(h.val_accuracy, True)):
                assert fmt(value) in screen, (key, fmt(value))
            assert f"s/ep {fmt(epoch_times(h).per_epoch_s, 2)}" in screen
        # BN − plain: both accuracies at 60 columns; at 80 the validation loss as well.
        assert "acc +3.18/+3.19 pts" in screen
        assert ("val loss −0.112" in screen) == (size[0] >= 80)
        # The best loss and the best accuracy are from different epochs: where there is
        # room, the panel says which.
        if size[0] >= 80:
            assert "ep 10 · ep 9" in screen or "ep 10·9" in screen
        assert "…" not in "".join(line for line in screen.splitlines() if "loss" in line)


@pytest.mark.parametrize("size", SIZES)
async def test_the_inside_tables_and_the_device_tab_are_whole(size: tuple[int, int]) -> None:
    run = load_run(SAMPLE_RUNS / "fashion-sgd-5-seeds.json")
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=size) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("5")
        await pilot.pause()
        table = drawn(app, "#inside-table")
        for trace in run.models["bn"].inside.layers:
            if trace.kind == "bn":
                gamma, spread = trace.stats["gamma_mean"][-1], trace.stats["gamma_std"][-1]
                assert f"{fmt(gamma, 3)}±{fmt(spread, 3)[1:]}" in table
                assert fmt(trace.stats["batch_var_ratio"][-1], 3) in table  # the last column
        assert "…" not in table
        await pilot.press("3")
        await pilot.pause()
        screen = on_screen(app)
        assert f"numpy {run.environment['numpy']}" in screen
        assert "≤100%" in screen  # the load bars have a scale


@pytest.mark.parametrize("size", SIZES)
async def test_the_models_tab_shows_the_whole_experiment(size: tuple[int, int]) -> None:
    """The status line gives the experiment's details up where it is narrow; the Models tab
    has them all, whole, wrapped where needed."""
    run = load_run(SAMPLE_RUNS / "fashion-sgd-5-seeds.json")
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=size) as pilot:
        await replay_to_end(app, pilot)
        status = on_screen(app).splitlines()[0]
        assert not all(part in status for part in experiment_parts(run))  # some given up
        await pilot.press("2")
        await pilot.pause()
        screen = on_screen(app)
        for part in [*experiment_parts(run), "seeds 42–46", "backend jax"]:
            assert part in screen, part
        assert "Experiment" in screen and "…" not in drawn(app, "#experiment")


# Recorded on an NVIDIA H200 (bench/RESULTS.md, speed round 15) with `bntui run --headless
# --limit 2000 --epochs 2`: both models on its one GPU, NVML's samples of it.
GPU_RUN = Path(__file__).resolve().parents[1] / "data" / "gpu_run_h200.json"


@pytest.mark.parametrize("size", [*SIZES, (120, 40)])
async def test_a_gpu_run_says_which_models_are_on_the_gpu_at_every_width(
    size: tuple[int, int],
) -> None:
    """The GPU's lines give way (the PCI bus id, the temperature, half the bars) so that
    the models on it stay; at 120 columns nothing gives way."""
    app = BntuiApp(ReplaySession(load_run(GPU_RUN), speed=1000))
    async with app.run_test(size=size) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("3")
        await pilot.pause()
        screen = on_screen(app)
        gpu_lines = [line.rstrip() for line in screen.splitlines() if "GPU" in line[:8]]
        assert len(gpu_lines) == 2, screen  # the device, its live load
        for line in gpu_lines:
            # The plain worker had ended at the last sample: NVML no longer listed it.
            assert line.endswith(("← plain, bn", "← plain ended, bn 1.1 GiB")), line
            assert "…" not in line
        assert "mem 1.7/140 GiB" in gpu_lines[1]
        wide = size[0] >= 120
        assert ("PCI 00000000:00:06.0" in gpu_lines[0]) == wide
        assert ("45°C" in gpu_lines[1]) == wide


@pytest.mark.parametrize("size", [*SIZES, (120, 40)])
async def test_the_status_line_drops_whole_details_never_a_cut_number(
    size: tuple[int, int],
) -> None:
    # "batch 3…" for batch 32 would misread: a detail that does not fit goes whole.
    run = load_run(SAMPLE_RUNS / "fashion-sgd-default.json")
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=size) as pilot:
        await replay_to_end(app, pilot)
        status = on_screen(app).splitlines()[0].rstrip()
        details = status.removesuffix(" …").split(" · ")[1:]
        assert details, status
        parts = ["fashion_mnist", "sgd lr 0.001", "batch 32", "10 ep"]
        kept = [d for d in details if d in parts]
        assert kept == details == parts[: len(kept)], status  # whole, the last go first
        assert status.endswith("10 ep") == (size[0] >= 80)  # at 60, details go
        assert status.endswith(" …") == (len(kept) < len(parts))
