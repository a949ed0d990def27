"""What several benchmark scripts share. Not a benchmark: ``run_all.py`` skips it.

The scripts run as ``python bench/NAME.py``, so this folder is first on ``sys.path`` and
they import it as ``from common import ...``.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent  # bench/
WORK, RESULTS = ROOT / "_work", ROOT / "results"  # scratch (runs, per-dataset JSON) and the published tables


def copy_figure(src: Path, name: str) -> str | None:
    """Copy a picture of the work folder into bench/results; its name there, or None when absent."""
    if not src.exists():
        return None
    RESULTS.mkdir(exist_ok=True)
    shutil.copyfile(src, RESULTS / name)
    return name


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, for the machine line of a result ("unknown" where the OS has none)."""
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def parse_setting(text: str) -> tuple[str, object]:
    """NAME=VALUE -> (name, value): a number or true/false as JSON reads it, else the text."""
    name, _, value = text.partition("=")
    try:
        return name.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return name.replace("-", "_"), value


READING = "Reading (written after the runs)"


def keep_reading(out: Path, text: str) -> str:
    """``text`` with the hand-written paragraphs that start at ``READING`` in the file it replaces kept at its end:
    a rerun rewrites the tables but not what was written about them."""
    old = out.read_text() if out.is_file() else ""
    at = old.find(READING)
    at = old.rfind("\n", 0, at) + 1 if at >= 0 else at  # from the start of its line: a heading's "## " too
    return text if at < 0 else text.rstrip("\n") + "\n\n" + old[at:].rstrip("\n") + "\n"
