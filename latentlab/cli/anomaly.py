"""latentlab anomaly MODEL: the one-class anomaly detection protocol (see latentlab.analysis.anomaly).

    latentlab anomaly ae --dataset mnist --epochs 10 --seeds 0 1 --out runs/anomaly-mnist
"""
from __future__ import annotations

import argparse
import dataclasses

from latentlab.cli.options import add_config_options
from latentlab.config import TrainConfig, train_defaults
from latentlab.models import MODELS
from latentlab.models.base import ConditionalEncoder, Encoder

OWN = ("out", "seed", "progress")  # replaced by this command's own --out, --seeds; no progress bars


def register(sub: argparse._SubParsersAction, help: str) -> None:
    from latentlab.analysis.anomaly import SCORES
    p = sub.add_parser("anomaly", help=help, description="Train on one class of the training split, score the whole test split (that class "
                                   "normal, the others anomalous) and report ROC-AUC for every class and seed. "
                                   "Writes anomaly.md (the table), anomaly.json, roc.png and scores.png to --out. "
                                   "On a dataset without labels: train on all training images, score the test split, no ROC-AUC.")
    models = p.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, cls in sorted(MODELS.items()):
        if not issubclass(cls, Encoder) or issubclass(cls, ConditionalEncoder):  # scores images without labels
            continue
        m = models.add_parser(name, help=f"score images by a trained {name!r} model")
        g = m.add_argument_group("anomaly detection")
        g.add_argument("--normal-class", dest="normal", type=int, nargs="+", default=None, metavar="K",
                       help="normal class(es) to run (default: every class)")
        g.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="S", help="training seeds per class (default: 0)")
        g.add_argument("--score", choices=SCORES, default="auto",
                       help="mse or bce reconstruction error; elbo: negative ELBO (VAEs); auto (default): elbo for a VAE, else mse")
        g.add_argument("--draws", type=int, default=10, help="samples of z per image for the ELBO score (default: 10)")
        g.add_argument("--contamination", type=float, default=0.1, help="expected share of anomalies: sets the threshold (default: 0.1)")
        g.add_argument("--out", default="anomaly", help="folder for the table, plots and the runs (default: anomaly)")
        add_config_options(m.add_argument_group("training"), TrainConfig, skip=OWN, defaults=train_defaults(cls))
        add_config_options(m.add_argument_group(f"{name} model"), cls.Config)
        m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab import anomaly
    names = {f.name for f in dataclasses.fields(TrainConfig)} | {f.name for f in dataclasses.fields(MODELS[args.model].Config)}
    settings = {k: v for k, v in vars(args).items() if k in names and k not in OWN}
    dataset, data_dir = settings.pop("dataset", "digits"), settings.pop("data_dir", None)
    common = dict(score=args.score, contamination=args.contamination, draws=args.draws, data_dir=data_dir)
    data = anomaly.load_images(dataset, data_dir, **settings)
    if data.classes is None and args.normal is None:
        summary = anomaly.unlabelled(args.model, dataset, args.out, seed=args.seeds[0], data=data, **common, **settings)
        print(f"scored {summary['test_images']} test images ({summary['score']}); {summary['flagged']} above the "
              f"threshold {summary['threshold']:.4g}\nROC-AUC needs labels: {dataset} has none, so nothing was evaluated\n"
              f"  {args.out}/anomaly.json\n  {args.out}/scores.png")
        return 0
    result = anomaly.one_class(args.model, dataset, args.out, args.normal, args.seeds, data=data, **common, **settings)
    print(result.table())
    for name in ("anomaly.md", "anomaly.json", "roc.png", "scores.png"):
        print(f"  {args.out}/{name}")
    return 0
