"""The `bntui claims` command: check the options, then run the battery (dashboard or
headless), resume one, or write a report from a claims file."""

from __future__ import annotations

import platform
import sys
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer

from bntui import __version__
from bntui.claims.battery import CLAIMS, SCALES
from bntui.cli.cluster import ExecutorOption, RayAddressOption, cell_executor, check_executor
from bntui.cli.common import check_out, fail
from bntui.core.datasets import fashion_on_disk
from bntui.core.text import say
from bntui.procs.supervisor import fetch_dataset
from bntui.procs.system import GpuMonitor, host_cpu

NAMES_HELP = "Claims to test (default: all): " + ", ".join(CLAIMS) + "."


def _scale(quick: bool, full: bool) -> str:
    """`quick` unless asked for `full`; `full` by default where a GPU is present."""
    if quick and full:
        fail("--quick and --full exclude each other")
    if quick or full:
        return "quick" if quick else "full"
    return "full" if GpuMonitor().count else "quick"


QUICK_HELP = (
    f"Data slices, fewer epochs, {SCALES['quick'].seeds} seeds (the default without a GPU). "
    "The battery says how long it will take, from what its first cells took on this machine."
)
FULL_HELP = (
    f"The real data, {SCALES['full'].seeds} seeds (the default with a GPU; sized for a GPU "
    "box). It too says how long it will take, from what its first cells took."
)
OUT_HELP = "Claims file to write (default: runs/<time>-claims.json)."
RESUME_HELP = "Finish an interrupted claims file: train only its missing cells."
REPORT_HELP = "Write a Markdown report (SVG figures, a CSV per claim) from this claims file."
HEADLESS_HELP = "Print verdict lines as they land, and the table, instead of the dashboard."
OUT_DIR_HELP = "Folder for --report (default: <file>-report/ beside the file)."


def claims(
    names: Annotated[list[str] | None, typer.Argument(help=NAMES_HELP, show_default=False)] = None,
    quick: Annotated[bool, typer.Option("--quick", help=QUICK_HELP)] = False,
    full: Annotated[bool, typer.Option("--full", help=FULL_HELP)] = False,
    seed: Annotated[int, typer.Option(help="First seed; the battery uses seed, seed+1, ...")] = 42,
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    resume: Annotated[Path | None, typer.Option(help=RESUME_HELP)] = None,
    report: Annotated[Path | None, typer.Option(help=REPORT_HELP)] = None,
    out_dir: Annotated[Path | None, typer.Option(help=OUT_DIR_HELP)] = None,
    headless: Annotated[bool, typer.Option("--headless", help=HEADLESS_HELP)] = False,
    scale: Annotated[str | None, typer.Option(hidden=True, help="tiny: for tests.")] = None,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Put the notebooks' claims about batch normalization to controlled experiments."""
    from bntui.claims.claimfile import ClaimsFile, load_claims
    from bntui.record.files import RunFileError

    check_executor(executor, ray_address)

    if report is not None:
        if names or resume or out or quick or full:
            fail("--report only reads a claims file; give it alone (with --out-dir)")
        from bntui.claims.outputs.report import write_report

        try:
            loaded = load_claims(report)
        except RunFileError as exc:
            fail(str(exc))
        folder = out_dir or report.with_name(report.stem + "-report")
        try:
            written = write_report(loaded, folder)
        except OSError as exc:
            fail(f"cannot write the report in {folder}: {exc.strerror or exc}")
        say(f"report: {written}")
        return
    if out_dir is not None:
        fail("--out-dir goes with --report")
    if resume is not None:
        if names or out or quick or full:
            fail(
                "--resume continues a claims file as it was planned: no claim names, --out, "
                "--quick or --full with it"
            )
        try:
            battery = load_claims(resume)
        except RunFileError as exc:
            fail(str(exc))
        if not [cell for cell in battery.plan() if cell.id not in battery.done()]:
            say(f"bntui: {resume} is complete (every cell finished): nothing to resume")
            raise typer.Exit(0)  # the file stays as it is: its `finished` is not re-stamped
        changed = battery.design_changes()
        if changed:
            fail(
                f"{resume} was recorded with another design of {changed[0]!r}"
                f"{f' and {len(changed) - 1} more cells' if len(changed) > 1 else ''} than this "
                "bntui's; resuming would mix two designs. Run the battery afresh."
            )
        if battery.design != battery.current_design():
            fail(
                f"{resume} was planned under another design than this bntui's (its rules, "
                f"cells or quantities differ: digest {battery.design or 'not recorded'}, this "
                f"bntui's {battery.current_design()}); resuming would mix two designs. Run the "
                "battery afresh."
            )
        path = resume
    else:
        unknown = [n for n in names or [] if n not in CLAIMS]
        if unknown:
            fail(f"unknown claim {unknown[0]!r}; choose from {', '.join(CLAIMS)}")
        chosen = list(dict.fromkeys(names or CLAIMS))
        if not 0 <= seed <= 2**32 - 64:
            fail("--seed must be a whole number from 0 to 2^32 - 64")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = check_out(out, Path("runs") / f"{stamp}-claims.json")
        if scale not in (None, "tiny"):
            fail("--scale takes only tiny (for tests); use --quick or --full")
        battery = ClaimsFile(
            claims=chosen,
            scale=scale or _scale(quick, full),  # type: ignore[arg-type]
            seed=seed,
            environment=_environment(),
            device=_device(),
        )
        battery.design = battery.current_design()
    from bntui.claims.runner import BatteryRun

    if not fashion_on_disk():  # before any worker starts: one line, not a failed cell each
        missing = fetch_dataset("fashion_mnist")
        if missing:
            fail(missing, code=1)
    cells = cell_executor(executor, ray_address)
    if cells is not None and resume is None:
        battery.device = cells.cluster.describe()
    run = BatteryRun(battery, path, executor=cells)
    if headless or not sys.stdout.isatty():
        from bntui.claims.outputs.headless import run_headless

        raise typer.Exit(run_headless(run))
    from bntui.tui.claims_app import ClaimsApp

    app = ClaimsApp.live(run)
    app.run()
    raise typer.Exit(app.exit_code())


def _device() -> str:
    """What the cells train on: the GPUs NVML sees, else the CPU."""
    monitor = GpuMonitor()
    cards = monitor.cards() if monitor.nvml else []
    if cards:
        return ", ".join(card.name for card in cards)
    cpu = host_cpu()
    return f"{cpu['name']}, {cpu['cores']} cores (CPU)"


def _environment() -> dict[str, str]:
    """Versions the report cites (without importing the backends here)."""
    found = {"bntui": __version__, "python": platform.python_version()}
    for package in ("keras", "jax", "jaxlib", "numpy", "scipy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    found["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    return found
