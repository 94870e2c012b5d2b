"""The `bntui` command's entry point: a run's workers start before the command line is read,
and the interpreter's last collection is skipped at the end.

Reading the command line needs typer, and typer pydantic (0.2-0.3 s together); a run's
workers need a second to import Keras and its backend. So a command that asks for a run
spawns them first (bntui.procs.prestart), and the parsing overlaps their imports.
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    """Console-script entry point: `bntui ...` and `python -m bntui ...`."""
    from bntui.procs.prestart import prestart

    prestart(sys.argv[1:])
    from bntui.cli.main import main as parse_and_run

    try:
        parse_and_run()
    finally:
        # A command's files are saved and its workers reaped before it returns. At exit
        # Python would still walk every object bntui made (Textual, pydantic, the run's
        # records) to collect cycles: 50-95 ms at the end of every run (bench/RESULTS.md,
        # speed round 17). Frozen objects are left to the OS; threads, atexit handlers and
        # the flushing of stdout and stderr happen as before.
        gc.freeze()
