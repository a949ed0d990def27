"""latentlab train MODEL [options]: one sub-parser per model, options generated from its configs."""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

from latentlab.cli.options import add_config_options
from latentlab.config import TrainConfig, train_defaults
from latentlab.errors import LatentlabError
from latentlab.models import MODELS


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("train", help=help, description="Train a model and write its run folder.")
    models = p.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, cls in sorted(MODELS.items()):
        doc = model_summary(cls)
        m = models.add_parser(name, help=doc, description=doc)
        m.add_argument("--resume", metavar="RUN_DIR", default=None, help="continue the run in RUN_DIR exactly where its checkpoint stopped")
        m.add_argument("--nproc", type=int, default=1, metavar="N",
                       help="train with N processes on this machine (launches torchrun; --batch-size is per process)")
        add_config_options(m.add_argument_group("training"), TrainConfig, defaults=train_defaults(cls))
        add_config_options(m.add_argument_group(f"{name} model"), cls.Config)
        m.set_defaults(func=run)


def model_summary(cls: type) -> str:
    """First line of the model class's docstring, else of its module's."""
    doc = cls.__doc__ or sys.modules[cls.__module__].__doc__ or cls.name
    return doc.strip().splitlines()[0]


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    """Re-run this command under `torchrun --standalone --nproc-per-node N` (PyTorch's own launcher)."""
    from latentlab.training import distributed as dist
    if dist.launched_by_torchrun():
        raise LatentlabError("--nproc was given inside a torchrun job: drop --nproc, torchrun already started the processes")
    rest, skip = [], False
    for a in argv:  # the same command without --nproc
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            rest.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "latentlab", *rest]
    print("launching: " + " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def run(args: argparse.Namespace) -> int:
    from latentlab.training.loop import train
    if args.nproc < 1:
        raise LatentlabError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc > 1:
        return launch_torchrun(args.nproc, args.argv)
    names = {f.name for f in dataclasses.fields(TrainConfig)} | {f.name for f in dataclasses.fields(MODELS[args.model].Config)}
    settings = {k: v for k, v in vars(args).items() if k in names}
    result = train(args.model, resume=args.resume, **settings)
    from latentlab.training import distributed as dist
    if dist.rank() != 0:
        return 0
    print(f"run folder: {result.dir}")
    for name in ("samples.png", "reconstructions.png", "losses.png", "latent.png", "report.html"):
        if (result.dir / name).exists():
            print(f"  {result.dir / name}")
    if result.metrics:
        last = result.metrics[-1]
        print("last epoch: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k.endswith("loss") or k.endswith("elbo")))
    return 0
