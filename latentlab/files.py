"""Writing files safely, and talking to the user: the bottom of the package, used by every layer.

``atomic_write`` writes to a temporary name in the same folder and renames it (a crash never
leaves half a file), with the permissions a plain ``open`` gives (0o666 less the umask);
``write_json`` is that for JSON; ``note`` prints a line for the user that is not an error.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux: /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path`` (same folder, so the rename is atomic). The file
    gets the permissions of a plain ``open``: 0o666 less the umask (mkstemp's own are 0o600)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2) + "\n"))


def note(message: str) -> None:
    """A line for the user that is not an error (stderr)."""
    print(f"latentlab: {message}", file=sys.stderr, flush=True)
