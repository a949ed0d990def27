"""Re-run every benchmark with its default settings (hours on 2 CPU cores), then assemble BENCHMARKS.md.

    python bench/run_all.py [--data ../shared/data] [--only NAME ...]

MNIST is found through LATENTLAB_DATA (set here to --data); Fashion-MNIST through
`apt-get install dataset-fashion-mnist`. The tables in BENCHMARKS.md were made with the
exact commands printed above each of them, which may differ from the defaults.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(BENCH.parent.parent / "shared" / "data"), help="folder holding mnist/")
    p.add_argument("--only", nargs="*", default=None, help="script names without .py")
    args = p.parse_args()
    env = {**os.environ, "LATENTLAB_DATA": args.data}
    # gan_defaults gathers the trials of time_to_quality.py (run each with its --set) and trains nothing itself
    for script in sorted(s for s in BENCH.glob("*.py") if s.stem not in ("assemble", "run_all", "common", "gan_defaults")):
        if args.only and script.stem not in args.only:
            continue
        print(f"== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script)], check=True, env=env, cwd=BENCH.parent)
    subprocess.run([sys.executable, str(BENCH / "assemble.py")], check=True)


if __name__ == "__main__":
    main()
