"""Find the IDX files of a named dataset on disk.

Folders are searched in this order, first match wins:

1. the ``data_dir`` argument (``--data-dir``), or ``<data_dir>/<name>``;
2. ``$LATENTLAB_DATA``, or ``$LATENTLAB_DATA/<name>``;
3. the user cache, ``$XDG_CACHE_HOME/latentlab/<name>`` (default ``~/.cache``);
4. Debian's ``/usr/share/datasets/<name>`` (``apt-get install dataset-fashion-mnist``).

A folder matches when it holds all four files, each raw or gzipped.
"""

import os
from pathlib import Path

from latentlab.data import catalog

DEBIAN_ROOT = Path("/usr/share/datasets")


def cache_dir(name: str) -> Path:
    """Where downloads go: ``$XDG_CACHE_HOME/latentlab/<name>`` or ``~/.cache/latentlab/<name>``."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "latentlab" / name


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Every folder looked in for ``name``, in order."""
    dirs = []
    for root in (data_dir, os.environ.get("LATENTLAB_DATA")):
        if root:
            root = Path(root).expanduser()
            dirs += [root, root / name]
    return dirs + [cache_dir(name), DEBIAN_ROOT / name]


def files_in(directory: Path) -> dict[str, Path]:
    """The IDX files present in ``directory``, keyed by name without ``.gz`` (raw preferred)."""
    found = {}
    for base in catalog.IDX_FILES:
        for candidate in (directory / base, directory / f"{base}.gz"):
            if candidate.is_file():
                found[base] = candidate
                break
    return found


def locate(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, Path] | None:
    """The four files of ``name`` from the first folder holding all of them, else None."""
    for directory in search_dirs(name, data_dir):
        found = files_in(directory)
        if len(found) == len(catalog.IDX_FILES):
            return found
    return None


def not_found_message(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """Say where ``name`` was looked for, what was missing, and how to get it."""
    lines = [f"dataset {name!r} not found. Looked in:"]
    for directory in search_dirs(name, data_dir):
        found = files_in(directory)
        if found:
            missing = [b for b in catalog.IDX_FILES if b not in found]
            lines.append(f"  {directory}  (incomplete: missing {', '.join(missing)})")
        else:
            lines.append(f"  {directory}")
    files = ", ".join(f"{b}[.gz]" for b in catalog.IDX_FILES)
    ways = [
        f"run `latentlab data fetch {name}` (downloads into {cache_dir(name)})",
        f"pass --data-dir DIR (or set LATENTLAB_DATA) to a folder holding {files}",
    ]
    if name in catalog.APT_PACKAGES:
        ways.append(f"on Debian/Ubuntu: apt-get install {catalog.APT_PACKAGES[name]}")
    lines.append("To get it, do one of:")
    lines += [f"  - {way}." for way in ways]
    return "\n".join(lines)
