"""`python -m bntui` runs the command-line interface."""

from bntui.cli.main import main

main()
