"""The `bntui` command's entry point: a run's workers start before the command line is read.

Reading the command line needs typer, and typer pydantic (0.2-0.3 s together); a run's
workers need a second to import Keras and its backend. So a command that asks for a run
spawns them first (bntui.procs.prestart), and the parsing overlaps their imports.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point: `bntui ...` and `python -m bntui ...`."""
    from bntui.procs.prestart import prestart

    prestart(sys.argv[1:])
    from bntui.cli.main import main as parse_and_run

    parse_and_run()
