"""`python -m bntui` runs the command-line interface."""

from bntui.cli import main

main()
