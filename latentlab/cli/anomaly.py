"""latentlab anomaly MODEL | RUN: anomaly detection with an autoencoder (see latentlab.analysis.anomaly).

    latentlab anomaly ae --dataset mnist --epochs 10 --seeds 0 1 --out runs/anomaly-mnist
        the one-class protocol: train on each class, score the whole test split, ROC-AUC per class and seed
    latentlab anomaly runs/anomaly-mnist/class-3/seed-0/run [--n 16] [--normal-class 3]
        no training: score a trained run's test split, the most and least anomalous images with their scores

The first word is a model name (of those that score images) or a run folder (it holds config.json);
write ./ae for a run folder that is named like a model.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from latentlab.cli.options import add_config_options
from latentlab.config import TrainConfig, train_defaults
from latentlab.errors import LatentlabError
from latentlab.models import MODELS
from latentlab.models.base import ConditionalEncoder, Encoder

OWN = ("out", "seed", "progress")  # replaced by this command's own --out, --seeds; a line per stage instead of bars


def scoring_models() -> list[str]:
    """The models that score images without labels: an encoder, not a conditional one."""
    return [name for name, cls in sorted(MODELS.items()) if issubclass(cls, Encoder) and not issubclass(cls, ConditionalEncoder)]


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("anomaly", help=help, usage="latentlab anomaly MODEL [options] | latentlab anomaly RUN [options]",
                       description="MODEL: train on one class of the training split, score the whole test split (that class "
                                   "normal, the others anomalous) and report ROC-AUC for every class and seed. "
                                   "Writes anomaly.md (the table), anomaly.json, roc.png and scores.png to --out. "
                                   "On a dataset without labels: train on all training images, score the test split, no ROC-AUC. "
                                   "Each stage (training a class and seed, scoring) is a line on stderr as it starts. "
                                   "RUN: no training; score the test split with a trained run's model and draw its most and least "
                                   "anomalous images with their scores (anomaly-most.png, anomaly-least.png), with ROC-AUC when "
                                   "the normal class is known. `latentlab anomaly MODEL --help` and `latentlab anomaly RUN --help` "
                                   "list the options of each.")
    p.add_argument("target", metavar="MODEL|RUN",
                   help=f"a model to train ({', '.join(scoring_models())}), or the folder of a trained run (it holds config.json)")
    p.add_argument("options", nargs=argparse.REMAINDER, metavar="...", help="the options of that form")
    p.set_defaults(func=run)


SCORE_HELP = ("mse or bce reconstruction error; elbo: negative ELBO (VAEs); knn: mean distance of the latent mean to the "
              "5 nearest codes of the normal images; wmse: the residual weighted by each pixel's spread over the normal "
              "images; mse+knn, wmse+knn: both parts, standardised and summed; auto (default): elbo for a VAE, else mse")


def model_parser(name: str) -> argparse.ArgumentParser:
    """The options of `latentlab anomaly MODEL`: the protocol's, then the model's training settings."""
    from latentlab.analysis.anomaly import SCORES
    cls = MODELS[name]
    m = argparse.ArgumentParser(prog=f"latentlab anomaly {name}", description=f"Score images by a trained {name!r} model: "
                                "the one-class protocol (train on each normal class, score the whole test split, ROC-AUC).")
    g = m.add_argument_group("anomaly detection")
    g.add_argument("--normal-class", dest="normal", type=int, nargs="+", default=None, metavar="K",
                   help="normal class(es) to run (default: every class)")
    g.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="S", help="training seeds per class (default: 0)")
    g.add_argument("--score", choices=SCORES, default="auto",
                   help=SCORE_HELP)
    g.add_argument("--draws", type=int, default=10, help="samples of z per image for the ELBO score (default: 10)")
    g.add_argument("--contamination", type=float, default=0.1, help="expected share of anomalies: sets the threshold (default: 0.1)")
    g.add_argument("--out", default="anomaly", help="folder for the table, plots and the runs (default: anomaly)")
    add_config_options(m.add_argument_group("training"), TrainConfig, skip=OWN, defaults=train_defaults(cls))
    add_config_options(m.add_argument_group(f"{name} model"), cls.Config)
    m.set_defaults(func=run_protocol, model=name)
    return m


def run_parser(folder: str) -> argparse.ArgumentParser:
    """The options of `latentlab anomaly RUN`."""
    from latentlab.analysis.anomaly import SCORES
    r = argparse.ArgumentParser(prog="latentlab anomaly RUN", description="Score the test split of a trained run's "
                                "dataset with its model (no training). Writes anomaly-most.png and anomaly-least.png (the most "
                                "and least anomalous test images, each with its score and label), anomaly-scores.json and "
                                "anomaly-scores.npy; with a normal class (a run of `latentlab anomaly MODEL` knows its own, or "
                                "--normal-class K), ROC-AUC with the other classes as the anomalies.")
    r.add_argument("--normal-class", dest="normal", type=int, default=None, metavar="K",
                   help="the class the run treats as normal, for ROC-AUC (default: the class `latentlab anomaly MODEL` "
                        "trained the run on; none for other runs)")
    r.add_argument("--score", choices=SCORES, default="auto",
                   help=SCORE_HELP)
    r.add_argument("--draws", type=int, default=10, help="samples of z per image for the ELBO score (default: 10)")
    r.add_argument("--seed", type=int, default=0, help="seed of the ELBO's draws (default: 0)")
    r.add_argument("--n", type=int, default=16, help="images in each grid (default: 16)")
    r.add_argument("--out", default=None, help="folder for the pictures and scores (default: RUN)")
    r.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load (default: last)")
    r.add_argument("--data-dir", default=None, help="where the run's dataset lives, if it moved")
    r.set_defaults(func=run_folder, run=folder)
    return r


def parse(args: argparse.Namespace) -> argparse.Namespace:
    """The options of the form the first word names: a model (the protocol) or a run folder (scoring)."""
    target = args.target
    if target in scoring_models():
        return model_parser(target).parse_args(args.options)  # argparse's own errors and --help: exit 2 / 0
    if (Path(target) / "config.json").is_file():
        return run_parser(target).parse_args(args.options)
    if target in MODELS:
        raise LatentlabError(f"a '{target}' model cannot score images: that takes an encoder of images alone, which it has "
                             f"not; choose one of {', '.join(scoring_models())}")
    if Path(target).is_dir():
        raise LatentlabError(f"{target} is not a latentlab run folder: config.json is missing (train one with "
                             "`latentlab train ae`, or give a model name to train: " + ", ".join(scoring_models()) + ")")
    raise LatentlabError(f"{target!r} is neither a model that scores images ({', '.join(scoring_models())}) nor a run folder")


def run(args: argparse.Namespace) -> int:
    args = parse(args)
    return args.func(args)


def run_folder(args: argparse.Namespace) -> int:
    from latentlab.analysis import anomaly
    if args.n < 1:
        raise LatentlabError(f"--n must be at least 1, got {args.n}")
    if args.draws < 1:
        raise LatentlabError(f"--draws must be at least 1, got {args.draws}")
    result, data = anomaly.score_run(args.run, args.score, args.draws, args.normal, args.which, args.data_dir, args.seed)
    out = Path(args.out) if args.out else Path(args.run)
    made = anomaly.write_run_scores(result, data, out, args.n)
    print(f"scored {len(result.scores):,} test images of {data.name} ({result.score}); higher = more anomalous")
    if result.auc is not None:
        name = f" ({result.classes[result.normal_class]})" if result.classes else ""
        print(f"ROC-AUC {result.auc:.4f}: normal class {result.normal_class}{name} (from {result.normal_from}), "
              "the other classes anomalous")
    else:
        print("no normal class known (the run was not trained by `latentlab anomaly MODEL`): give --normal-class K for ROC-AUC")
    top = result.most(min(5, len(result.scores)))
    print("most anomalous: " + ", ".join(f"#{i} {result.scores[i]:.4g}" + ("" if result.labels is None else
                                                                             f" (label {result.labels[i]})") for i in top))
    for path in made:
        print(f"  {path}")
    return 0


def run_protocol(args: argparse.Namespace) -> int:
    from latentlab import anomaly
    from latentlab.training.run_folder import note
    names = {f.name for f in dataclasses.fields(TrainConfig)} | {f.name for f in dataclasses.fields(MODELS[args.model].Config)}
    settings = {k: v for k, v in vars(args).items() if k in names and k not in OWN}
    dataset, data_dir = settings.pop("dataset", "digits"), settings.pop("data_dir", None)
    common = dict(score=args.score, contamination=args.contamination, draws=args.draws, data_dir=data_dir)
    note(f"loading {dataset}...")
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
