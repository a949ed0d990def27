"""How much memory a request needs, against what the machine has free: a request that cannot fit
(``latentlab sample --n 10**9``, ``--image-size 100000``) is refused up front with the amount it
needs, rather than killed by the system half way or ended by an allocator's traceback."""
from __future__ import annotations

import os

from latentlab.errors import LatentlabError


def available_bytes() -> int | None:
    """Memory available to a new allocation: MemAvailable of /proc/meminfo (Linux), else the free
    physical pages; None when the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human(n: float) -> str:
    """Bytes as "1.5 GB" (powers of 1000)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def check_fits(need: float, what: str, fix: str, error: type[LatentlabError] = LatentlabError,
               available: int | None = None) -> None:
    """Raise ``error`` when ``need`` bytes exceed the memory available (``available``, else asked of
    the system): "WHAT needs about N GB of memory, but M GB are available: FIX"."""
    available = available_bytes() if available is None else available
    if available is not None and need > available:
        raise error(f"{what} needs about {human(need)} of memory, but {human(available)} are available: {fix}")
