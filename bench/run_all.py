"""Re-run every benchmark (hours on 2 CPU cores), then assemble BENCHMARKS.md.

    python bench/run_all.py [--data-dir ../shared/data/mnist] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(BENCH.parent.parent / "shared" / "data" / "mnist"))
    p.add_argument("--only", nargs="*", default=None, help="script names without .py")
    args = p.parse_args()
    scripts = sorted(s for s in BENCH.glob("*.py") if s.stem not in ("assemble", "run_all"))
    for script in scripts:
        if args.only and script.stem not in args.only:
            continue
        print(f"== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script), "--data-dir", args.data_dir], check=True)
    subprocess.run([sys.executable, str(BENCH / "assemble.py")], check=True)


if __name__ == "__main__":
    main()
