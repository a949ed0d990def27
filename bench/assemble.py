"""Assemble BENCHMARKS.md from the tables the benchmark scripts wrote to bench/results/*.md.

    python bench/assemble.py
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Order of the sections in BENCHMARKS.md; any other result file follows in name order.
ORDER = ["throughput", "mnist_vae", "ddp", "ae_presets", "linear_pca", "denoise", "anomaly", "estimators", "cluster", "n2d",
         "likelihood", "likelihood_budget", "likelihood_best", "gan_losses", "time_to_quality", "time_to_quality-fashion-mnist", "loop_overhead", "gan_defaults", "calo", "calo_ds2", "faults", "vanishing_gradient", "lecture_004", "pixelcnn", "sgan", "bigan", "density", "parzen", "ddpm"]

HEADER = """# Benchmarks

Every table below was written by the script named in its command line (`bench/*.py`), on the
machine it names. Re-run them all with `make bench` (installs the benchmark-only dependencies:
pythae 0.1.2, PyOD), or one at a time with the command shown. Targets the issues set are quoted
beside the figures, reached or not.

Note on the machine: unless a table says otherwise, figures were taken on a 2-core CPU machine
that other jobs were sharing at the same time, so wall times are upper bounds; ratios measured
in one run (alternating the two contenders) are fair to both sides.

"""


def section(path: Path) -> str:
    """One result file as a section: headings one level down when it has a title of its own,
    links to its pictures made relative to the repository root."""
    text = path.read_text().rstrip() + "\n"
    if re.search(r"^# ", text, flags=re.M):
        text = re.sub(r"^(#+) ", r"#\1 ", text, flags=re.M)
    return re.sub(r"\]\(([\w.-]+\.(?:png|gif))\)", r"](bench/results/\1)", text)


def main() -> None:
    results = ROOT / "bench" / "results"
    files = {p.stem: p for p in results.glob("*.md")}
    names = [n for n in ORDER if n in files] + sorted(set(files) - set(ORDER))
    body = "\n".join(section(files[n]) for n in names)
    (ROOT / "BENCHMARKS.md").write_text(HEADER + body)
    print(f"BENCHMARKS.md: {len(names)} sections ({', '.join(names)})")


if __name__ == "__main__":
    main()
