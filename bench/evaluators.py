"""Re-derive the shipped evaluation classifiers (latentlab/evaluation/weights/).

    python bench/evaluators.py --data-dir-mnist ../shared/data/mnist --data-dir-fashion /usr/share/datasets/fashion-mnist
    python bench/evaluators.py --datasets mnist --data-dir-mnist ../shared/data/mnist   # one at a time

For each dataset: the whole training split (no validation hold-out, grey levels in [0, 1]),
the fixed recipe of ``latentlab.evaluation.classifier`` (``RECIPE``: seed 0, Adam, one thread),
then ``<dataset>-<C>x<H>x<W>-v<version>.safetensors`` (float32 weights) and a ``.json`` record
(test accuracy, sha256, the data's hash) are written into ``--out``. Each hash is compared with
the pin in ``classifier.SHIPPED``: on another CPU or PyTorch build the same recipe may round
differently, and then the new file is a different yardstick. Such a file does not replace the
shipped one (latentlab would refuse it): it goes to bench/_work/evaluators/ unless ``--force``
(re-basing every published number: then paste the printed hashes into ``SHIPPED``).
Time: about 2 CPU-minutes for MNIST or Fashion-MNIST, seconds for digits.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from latentlab.evaluation.classifier import (SHIPPED, SHIPPED_SHAPES, WEIGHTS_DIR, data_fingerprint, describe, evaluator_data,
                                             save_weights, stem, train_classifier)
from latentlab.training.run_folder import write_json

ASIDE = Path(__file__).resolve().parent / "_work" / "evaluators"  # files that differ from their pin


def derive(name: str, data_dir: str | None, out: Path, force: bool = False) -> dict:
    """Train the evaluator of ``name`` with the recipe and write its two files into ``out``
    (into ``ASIDE`` when the weights do not hash to the pin, unless ``force``)."""
    data = evaluator_data(name, data_dir)
    assert data.shape == SHIPPED_SHAPES[name], (name, data.shape)
    print(f"{name}: training on {len(data.train)} images, testing on {len(data.test)} (one thread)", flush=True)
    start = time.time()
    net, accuracy = train_classifier(data.train, data.test, data.shape, len(data.classes), log=print)
    seconds = time.time() - start
    base = ASIDE / stem(name, data.shape)
    digest = save_weights(net, base.with_suffix(".safetensors"), name)
    record = describe(data, accuracy, digest, data_fingerprint(data.train), seconds)
    record["made_by"] = f"python bench/evaluators.py --datasets {name}" + (" --data-dir-mnist DIR" if name == "mnist" else
                                                                          " --data-dir-fashion DIR" if name != "digits" else "")
    write_json(base.with_suffix(".json"), record)
    same = digest == SHIPPED.get(name)
    if same or force:
        for suffix in (".safetensors", ".json"):
            out.mkdir(parents=True, exist_ok=True)
            base.with_suffix(suffix).replace(out / base.with_suffix(suffix).name)
        base = out / base.name
    print(f"{name}: test accuracy {accuracy:.4f}, {seconds:.0f} s, sha256 {digest} "
          f"({'matches the pin' if same else 'differs from the pin ' + SHIPPED.get(name, '-')[:12]}); "
          f"written to {base}.safetensors", flush=True)
    return record


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", choices=tuple(SHIPPED), default=list(SHIPPED), help="which to derive (default all)")
    p.add_argument("--data-dir-mnist", default=None, help="folder holding the four MNIST IDX files (default: the usual search)")
    p.add_argument("--data-dir-fashion", default=None, help="folder holding the four Fashion-MNIST IDX files")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help=f"where the files go (default {WEIGHTS_DIR})")
    p.add_argument("--force", action="store_true", help="write into --out even when a hash differs from its pin")
    args = p.parse_args()
    dirs = {"digits": None, "mnist": args.data_dir_mnist, "fashion-mnist": args.data_dir_fashion}
    records = [derive(name, dirs[name], args.out, args.force) for name in args.datasets]
    if any(r["sha256"] != SHIPPED.get(r["dataset"]) for r in records):
        pins = "\n".join(f'    "{r["dataset"]}": "{r["sha256"]}",' for r in records)
        print(f"\nnot the shipped yardstick; to re-base on these files, run with --force and pin in "
              f"latentlab/evaluation/classifier.py SHIPPED:\n{pins}")


if __name__ == "__main__":
    main()
