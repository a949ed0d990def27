"""latentlab eval RUN: evaluate a trained model on its test split (see latentlab.evaluation)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from latentlab import evaluation
from latentlab.errors import LatentlabError


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("eval", help=help, description="Evaluate a trained model; results are printed and merged into RUN/eval.json.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.add_argument("--data-dir", default=None, help="where the run's dataset lives, if it moved")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device to evaluate on")
    for plugin in evaluation.plugins():
        plugin.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.viz.plots import write_report
    from latentlab.training.run_folder import read_metrics, write_json
    ctx = evaluation.Context(Path(args.run), args.which, args.data_dir, args.device)
    if ctx.model.eval_hint:  # also fails early on a folder that is not a run
        raise LatentlabError(ctx.model.eval_hint)
    groups: dict[str, dict] = {}  # plugin name -> its result, for the plugins that were asked for
    for name, plugin in zip(evaluation.PLUGINS, evaluation.plugins()):
        out = plugin.evaluate(args, ctx)
        if out:
            groups[name] = out
    results = {k: v for out in groups.values() for k, v in out.items()}
    path = Path(args.run) / "eval.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    write_json(path, evaluation.merge(previous, groups))  # each fresh group replaces its saved group whole
    width = max((len(k) for k in results), default=0)
    for k, v in results.items():
        print(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if "samples" in groups:  # the sample metrics once more, each beside its floor, with a reading
        from latentlab.viz.summary import evaluator_line, format_rows, sample_rows
        print(f"\n{format_rows(sample_rows(groups['samples']))}\n{evaluator_line(groups['samples'])}")
    write_report(Path(args.run), read_metrics(args.run))
    return 0
