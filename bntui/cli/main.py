"""The `bntui` command: run (live dashboard or headless), replay. Heavy imports stay inside.

Bad input gets one line on stderr and exit code 2, before anything trains.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer._click.exceptions import ClickException, UsageError  # typer vendors click
from typer.core import TyperGroup

from bntui import __version__
from bntui.cli.cluster import ExecutorOption, RayAddressOption, check_executor, sweep_supervisor
from bntui.cli.common import (
    check_out,
    check_threads,
    default_out,
    fail,
    in_plain_words,
    writable_dir,
)
from bntui.core.spec import DEFAULT_BATCH_SIZES, PRESETS, ExperimentSpec, SpecError, build_spec
from bntui.core.text import say

if TYPE_CHECKING:
    from bntui.procs.supervisor import Supervisor
    from bntui.session.sessions import TrainingSession

MIN_SPEED, MAX_SPEED = 0.01, 10_000.0


class OneLineErrors(TyperGroup):
    """bntui's commands: a usage error (an unknown option, `--epochs abc`) is one line on
    stderr and exit code 2, like every other bad input, not click's usage block."""

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command (`run` when only its options are given); usage errors become
        `bntui: error: ...`."""
        from bntui.procs.prestart import with_run_made_explicit

        args = with_run_made_explicit(list(sys.argv[1:] if args is None else args))
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ClickException as exc:
            message = in_plain_words(" ".join(exc.format_message().split()))
            say(f"bntui: error: {message}", sys.stderr)
            code = 2 if isinstance(exc, UsageError) else exc.exit_code
        except typer.Abort:
            code = 1
        if standalone_mode:
            sys.exit(code if isinstance(code, int) else 0)
        return code

    def list_commands(self, ctx: Any) -> list[str]:
        """The commands in the order they were declared, `claims` last."""
        return [*super().list_commands(ctx), *(n for n in LAZY_COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """A command; `claims` is loaded on first use (its battery and NumPy are not
        imported to train a run, whose workers start sooner without them)."""
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, function, short_help = LAZY_COMMANDS[cmd_name]
            single = typer.Typer(**TYPER_SETTINGS)
            single.command(cmd_name, short_help=short_help)(
                getattr(importlib.import_module(module), function)
            )
            self.add_command(typer.main.get_command(single), cmd_name)
        return super().get_command(ctx, cmd_name)


# name -> (module, function, short help): commands whose module loads only when they run
# or the command list is shown.
LAZY_COMMANDS = {
    "claims": (
        "bntui.cli.claims",
        "claims",
        "Put the notebooks' claims about BN to controlled experiments.",
    )
}
TYPER_SETTINGS: dict[str, Any] = {
    "add_completion": False,
    "rich_markup_mode": None,
    "pretty_exceptions_enable": False,
}


app = typer.Typer(
    name="bntui",
    cls=OneLineErrors,
    help="Train a plain MLP and the same MLP with BatchNormalization side by side, live, "
    "and replay saved runs anywhere (no TensorFlow needed to replay).",
    no_args_is_help=False,
    **TYPER_SETTINGS,
)

PRESET_HELP = "; ".join(f"{p.name}: {p.description}" for p in PRESETS.values())


def train(session: TrainingSession, headless: bool) -> NoReturn:
    """Train in the dashboard, or with progress lines when asked or not on a terminal; exit
    with the outcome's code. The workers start first: their start-up overlaps the UI's."""
    session.start()
    if headless or not sys.stdout.isatty():
        from bntui.outputs.headless import run_headless

        raise typer.Exit(run_headless(session))
    from bntui.tui.app import BntuiApp

    tui = BntuiApp(session)
    tui.run()
    raise typer.Exit(tui.finish())


def start_first_pair(spec: ExperimentSpec, threads: int | None) -> Supervisor | None:
    """The run's workers, spawned before the session's modules (pydantic, the run file's
    records) load: the workers' start-up is the run's critical path, and those imports
    overlap it. Workers spawned before the command line was read (bntui.procs.prestart)
    are given this run when they started as its own would. None if they could not start
    (the session then reports why)."""
    from bntui.procs.prestart import take_waiting
    from bntui.procs.supervisor import start_pair

    return start_pair(spec, threads, take_waiting())


def check_gpus(devices: str) -> None:
    """Fail unless `--devices` names GPUs bntui may use: NVML's GPUs, as far as
    CUDA_VISIBLE_DEVICES shows them."""
    from bntui.procs.gpus import DeviceError, plan_devices
    from bntui.procs.system import GpuMonitor

    monitor = GpuMonitor()
    cards = monitor.cards() if monitor.nvml else None
    try:
        plan_devices(os.environ.get("CUDA_VISIBLE_DEVICES"), cards, devices)
    except DeviceError as exc:
        fail(str(exc))


# Options shared by `run` and `sweep` (None = keep the preset's value).
DatasetOption = Annotated[str | None, typer.Option(help="fashion_mnist or mnist.")]
EpochsOption = Annotated[int | None, typer.Option(help="Epochs to train.")]
OptimizerOption = Annotated[str | None, typer.Option(help="sgd or adam.")]
LrOption = Annotated[float | None, typer.Option(help="Learning rate.")]
SeedOption = Annotated[int | None, typer.Option(help="Random seed (Python, NumPy, backend).")]
SeedsOption = Annotated[
    int | None,
    typer.Option(
        help="Train N seeds of each model (seed, seed+1, ...), paired: seed k of both models "
        "sees the same data order. BN − plain is then given with a 95% interval."
    ),
]
LimitOption = Annotated[int | None, typer.Option(help="Train on the first N training images only.")]
BackendOption = Annotated[str | None, typer.Option(help="Keras backend: jax or tensorflow.")]
ThreadsOption = Annotated[
    int | None, typer.Option(help="CPU threads per worker (default: cores / 2).")
]
InsideOption = Annotated[
    int | None,
    typer.Option(help="Layer statistics (inside the networks) this many times per epoch; 0 = off."),
]
HeadlessOption = Annotated[
    bool, typer.Option("--headless", help="No dashboard: plain progress lines.")
]


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """With no command, `bntui` is `bntui run`: the default experiment, live; `run`'s
    options work alone too (`bntui --epochs 3`)."""
    if version:
        say(f"bntui {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@app.command(short_help="Train the plain and BN models side by side, live, and save the run.")
def run(
    preset: Annotated[str, typer.Option(help=f"Experiment preset. {PRESET_HELP}")] = "fashion-sgd",
    dataset: DatasetOption = None,
    epochs: EpochsOption = None,
    batch_size: Annotated[int | None, typer.Option(help="Mini-batch size.")] = None,
    optimizer: OptimizerOption = None,
    lr: LrOption = None,
    seed: SeedOption = None,
    seeds: SeedsOption = None,
    limit: LimitOption = None,
    backend: BackendOption = None,
    faithful: Annotated[
        bool,
        typer.Option(
            "--faithful",
            help="Train exactly as the seed notebooks: TensorFlow, float64 inputs, one step "
            "per call, validation batch 32.",
        ),
    ] = False,
    steps_per_execution: Annotated[
        int | None,
        typer.Option(
            help="Optimizer steps fused per compiled call. Default: one call per curve "
            "point, about 25 calls an epoch (68 steps with the default data and batch size)."
        ),
    ] = None,
    fuse: Annotated[
        bool,
        typer.Option(
            help="JAX: run each group of fused steps as one compiled scan (--no-fuse: "
            "Keras' own step-by-step loop; same numbers, slower)."
        ),
    ] = True,
    threads: ThreadsOption = None,
    inside: InsideOption = None,
    early_stopping: Annotated[
        int | None,
        typer.Option(
            help="Stop a model when val_loss has not improved for N epochs (restores "
            "its best weights), as notebook 003's EarlyStopping."
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Save each model's best weights (val_loss) to DIR/<model>.keras."),
    ] = None,
    tensorboard: Annotated[
        Path | None, typer.Option(help="Also write TensorBoard logs to DIR/plain and DIR/bn.")
    ] = None,
    devices: Annotated[
        str | None,
        typer.Option(
            help="Two GPUs, plain then BN (e.g. 0,1; 0,0 shares one), numbered among the GPUs "
            "bntui may use (CUDA_VISIBLE_DEVICES). Default: a GPU each when there are two."
        ),
    ] = None,
    cpu: Annotated[
        bool, typer.Option("--cpu", help="Train on the CPU even where there are GPUs.")
    ] = False,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="Keep training a model whose loss diverged (NaN, inf, or past 3·ln 10).",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Run file to write (default runs/<time>-<preset>.json).")
    ] = None,
    headless: HeadlessOption = False,
) -> None:
    """Train the plain and BN models side by side and save the run as JSON."""
    if cpu and devices:
        fail("--cpu and --devices contradict each other; give one")
    try:
        spec = build_spec(
            preset,
            dataset=dataset,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            learning_rate=lr,
            seed=seed,
            seeds=seeds,
            limit=limit,
            backend=backend or ("tensorflow" if faithful else None),
            faithful=faithful or None,
            stop_on_divergence=False if keep_going else None,
            steps_per_execution=steps_per_execution,
            fuse_steps=None if fuse else False,
            inside_per_epoch=inside,
            early_stopping=early_stopping,
            devices="cpu" if cpu else devices,
            checkpoint_dir=writable_dir(checkpoint, "--checkpoint"),
            tensorboard_dir=writable_dir(tensorboard, "--tensorboard"),
        )
    except SpecError as exc:
        fail(str(exc))
    check_threads(threads)
    if spec.devices and spec.devices != "cpu":
        check_gpus(spec.devices)
    if tensorboard is not None and importlib.util.find_spec("tensorboard") is None:
        fail("--tensorboard needs the tensorboard package: pip install tensorboard")
    path = check_out(out, default_out(spec))

    started = start_first_pair(spec, threads)
    from bntui.session.sessions import LiveSession

    train(LiveSession(spec, path, threads=threads, started=started), headless)


@app.command(short_help="Re-enact a saved run, sweep or claims battery (no TensorFlow).")
def replay(
    file: Annotated[Path, typer.Argument(help="A run, sweep or claims file written by bntui.")],
    speed: Annotated[float, typer.Option(help="Replay this many times faster.")] = 1.0,
    headless: Annotated[
        bool, typer.Option("--headless", help="Print the run's summary instead of replaying.")
    ] = False,
) -> None:
    """Re-enact a saved run, sweep or claims battery at its recorded pace (no TensorFlow)."""
    from bntui.claims.claimfile import ClaimsFile, load_any
    from bntui.record.files import RunFileError
    from bntui.record.sweep import SweepFile

    if not MIN_SPEED <= speed <= MAX_SPEED:
        fail(f"--speed must be a positive number from {MIN_SPEED:g} to {MAX_SPEED:g}")
    try:
        loaded = load_any(file)
    except RunFileError as exc:
        fail(str(exc))
    if isinstance(loaded, ClaimsFile):
        if headless or not sys.stdout.isatty():
            from bntui.claims.outputs.headless import file_lines

            for line in file_lines(loaded, str(file)):
                say(line)
            return
        from bntui.tui.claims_app import ClaimsApp

        raise typer.Exit(ClaimsApp.replay(loaded, speed, file).run() or 0)
    if headless or not sys.stdout.isatty():
        from bntui.outputs.headless import sweep_lines
        from bntui.outputs.summary import summary_lines

        lines = sweep_lines(loaded) if isinstance(loaded, SweepFile) else summary_lines(loaded)
        for line in lines:
            say(line)
        return
    from bntui.session.sessions import ReplaySession, SweepReplaySession
    from bntui.tui.app import BntuiApp

    if isinstance(loaded, SweepFile):
        code = BntuiApp(SweepReplaySession(loaded, speed, path=file)).run()
    else:
        code = BntuiApp(ReplaySession(loaded, speed, path=file)).run()
    raise typer.Exit(code or 0)  # 128 + N after a signal


@app.command(short_help="Train the plain/BN pair once per batch size into one sweep file.")
def sweep(
    preset: Annotated[
        str, typer.Option(help="Experiment preset (default: notebook 004's model).")
    ] = "mnist-sweep",
    batch_sizes: Annotated[
        str, typer.Option(help="Batch sizes to train the pair with, in order.")
    ] = ",".join(map(str, DEFAULT_BATCH_SIZES)),
    dataset: DatasetOption = None,
    epochs: EpochsOption = None,
    optimizer: OptimizerOption = None,
    lr: LrOption = None,
    seed: SeedOption = None,
    seeds: SeedsOption = None,
    limit: LimitOption = None,
    backend: BackendOption = None,
    inside: InsideOption = None,
    target: Annotated[
        float | None,
        typer.Option(help="Validation accuracy to time (default 0.97 MNIST, 0.85 Fashion)."),
    ] = None,
    threads: ThreadsOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Sweep file to write (default runs/<time>-<preset>-sweep.json; for the "
            "default preset runs/<time>-mnist-sweep.json)."
        ),
    ] = None,
    headless: HeadlessOption = False,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Train the plain/BN pair once per batch size (EXPERIMENTS.md §3); one sweep file."""
    from bntui.record.sweep import DEFAULT_TARGETS, parse_sizes, sweep_specs

    check_executor(executor, ray_address)

    try:
        base = build_spec(
            preset,
            dataset=dataset,
            epochs=epochs,
            optimizer=optimizer,
            learning_rate=lr,
            seed=seed,
            seeds=seeds,
            limit=limit,
            backend=backend,
            inside_per_epoch=inside,
        )
        specs = sweep_specs(base, parse_sizes(batch_sizes))
    except SpecError as exc:
        fail(str(exc))
    goal = DEFAULT_TARGETS.get(base.dataset, 0.9) if target is None else target
    if not 0 < goal <= 1:
        fail("--target must be an accuracy between 0 and 1")
    check_threads(threads)
    # `mnist-sweep` says sweep already: runs/<time>-mnist-sweep.json, not …-sweep-sweep.
    path = check_out(out, default_out(base, "" if base.preset.endswith("sweep") else "-sweep"))

    from bntui.session.sessions import SweepSession

    pairs = sweep_supervisor(executor, ray_address)
    train(SweepSession(specs, goal, path, threads=threads, supervisor=pairs), headless)


@app.command(short_help="Show saved runs side by side, aligned by epoch, with what differs.")
def compare(
    files: Annotated[list[Path], typer.Argument(help="Two or more run files written by bntui.")],
    headless: Annotated[
        bool, typer.Option("--headless", help="Print the comparison instead of showing it.")
    ] = False,
) -> None:
    """Saved runs side by side, aligned by epoch: other machines, backends or presets."""
    from bntui.record.files import RunFileError
    from bntui.record.runfile import load_run
    from bntui.stats.compare import labels_for

    if len(files) < 2:
        fail("compare needs at least two run files")
    if len(files) > 8:
        fail("compare shows at most 8 runs at once")
    try:
        runs = [load_run(path) for path in files]
    except RunFileError as exc:
        fail(str(exc))
    labels, names = labels_for(files)
    if headless or not sys.stdout.isatty():
        from bntui.outputs.headless import compare_lines

        for line in compare_lines(runs, labels, names):
            say(line)
        return
    from bntui.session.sessions import CompareSession
    from bntui.tui.app import BntuiApp

    raise typer.Exit(BntuiApp(CompareSession(runs, labels, names)).run() or 0)


@app.command(short_help="Write a run's curves and statistics as CSV and an SVG picture.")
def export(
    file: Annotated[Path, typer.Argument(help="A run or sweep file written by bntui.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for the exported files (default: the current folder)."),
    ] = None,
) -> None:
    """Write FILE's histories, curves and layer statistics as CSV, and its curves as SVG."""
    from bntui.outputs.export import export_files, write_all
    from bntui.record.files import RunFileError
    from bntui.record.sweep import load_document

    try:
        loaded = load_document(str(file))
    except RunFileError as exc:
        fail(str(exc))
    folder = out_dir or Path.cwd()
    if out_dir is not None and not out_dir.exists():
        try:
            out_dir.mkdir(parents=True)
        except OSError as exc:
            fail(f"--out-dir {out_dir} does not exist and cannot be made ({exc.strerror or exc})")
    if not folder.is_dir():
        fail(f"--out-dir {folder} is not a folder")
    files = export_files(loaded, folder / file.stem)  # all rendered before anything is written
    for path in files:
        try:
            taken = path.exists() or path.is_symlink()
        except OSError as exc:
            fail(f"cannot write {path} ({exc.strerror or exc})")
        if taken:
            fail(f"{path} already exists; bntui export never overwrites (use --out-dir)")
    try:
        write_all(files)
    except OSError as exc:
        fail(str(exc), code=1)
    where = "" if out_dir is not None else " (the current folder; --out-dir chooses another)"
    say(f"wrote {len(files)} files to {folder.resolve()}{where}:")
    for path in files:
        say(f"  {path.name}")


def main() -> None:
    """Console-script entry point."""
    app()
