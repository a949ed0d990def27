"""The command line: ``main`` dispatches to one module per sub-command (``latentlab/cli/*.py``)."""
from latentlab.cli.main import main

__all__ = ["main"]
