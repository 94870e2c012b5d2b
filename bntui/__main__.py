"""`python -m bntui` runs the command-line interface."""

from bntui.cli.launch import main

main()
