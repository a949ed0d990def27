"""Multi-process training on PyTorch's own engine (torchrun + DistributedDataParallel).

Without torchrun every function answers for a single process (rank 0 of 1) and
``wrap`` returns the model itself. Under torchrun (RANK, WORLD_SIZE, MASTER_ADDR
set in the environment) ``init`` joins the process group: gloo on the CPU, nccl
on CUDA, with a timeout (``LATENTLAB_DIST_TIMEOUT`` seconds, default 120) so that
a dead process makes the others fail instead of waiting forever.

Batch norm: on CUDA it becomes SyncBatchNorm (statistics over the global batch);
on the CPU each rank normalises with its own batch statistics and DDP broadcasts
rank 0's running averages (SyncBatchNorm has no CPU kernel).

``launch`` starts such a job on this machine (``latentlab train --nproc N``): torchrun
in a child process (``python -m latentlab.training.distributed``) whose failure ends
with one latentlab line naming --resume, not torchrun's ChildFailedError traceback.
"""
from __future__ import annotations

import atexit
import datetime
import math
import os
import signal
import subprocess
import sys

import torch
import torch.distributed as tdist

from latentlab.errors import DistributedError  # noqa: F401  (raised here; dist.DistributedError for callers)


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_distributed() -> bool:
    return tdist.is_available() and tdist.is_initialized()


def rank() -> int:
    return tdist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return tdist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def timeout_s() -> float:
    return float(os.environ.get("LATENTLAB_DIST_TIMEOUT", "120"))


def init(device: torch.device) -> None:
    """Join the process group torchrun described in the environment (no-op otherwise)."""
    if not launched_by_torchrun() or is_distributed():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(local_rank())
    try:
        tdist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s()))
    except Exception as e:  # noqa: BLE001 (rendezvous errors come in many types)
        raise DistributedError(f"could not join the distributed job ({type(e).__name__}: {e}); check MASTER_ADDR/MASTER_PORT "
                               f"(torchrun --rdzv-endpoint) and that every node started") from e
    atexit.register(leave)


def leave() -> None:
    """Leave the process group before the interpreter exits: its communication threads are joined here,
    not torn down at shutdown (where gloo can abort the process with 'terminate called without an active exception')."""
    if is_distributed():
        try:
            tdist.destroy_process_group()
        except Exception:  # noqa: BLE001 (a group whose peers died cannot always be torn down; exiting is what is left)
            pass


def barrier() -> None:
    if is_distributed():
        tdist.barrier()


def broadcast(obj):
    """Rank 0's value of a picklable object, on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sum of a list of floats over ranks (float64 on the CPU)."""
    if not is_distributed() or not values:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    if tdist.get_backend() == "nccl":
        t = t.cuda()
    tdist.all_reduce(t)
    return t.cpu().tolist()


def any_rank(flag: bool) -> bool:
    """True on every rank when the flag is True on any rank (Ctrl-C, a NaN)."""
    return any_ranks([flag])[0]


def any_ranks(flags: list[bool]) -> list[bool]:
    """``any_rank`` of several flags in one collective (Ctrl-C, a checkpoint due)."""
    if not is_distributed():
        return list(flags)
    return [v > 0 for v in all_reduce_sum([float(f) for f in flags])]


def num_batches(n: int, batch_size: int) -> int:
    """Batches per epoch on this rank (each rank holds ceil(n / world) indices)."""
    return math.ceil(math.ceil(n / world_size()) / batch_size)


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around the whole model (both networks of a GAN); the model itself otherwise."""
    if not is_distributed() or not any(p.requires_grad for p in model.parameters()):
        return model  # nothing to synchronise: a model fitted in closed form (gaussian, kde) has no parameters
    from torch.nn.parallel import DistributedDataParallel
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index], find_unused_parameters=True)
    # Parameters of the group that is not stepping are frozen each step: find_unused_parameters lets DDP skip them.
    return DistributedDataParallel(model, find_unused_parameters=True)


def _option(argv: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in argv (the last one), else None."""
    value = None
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``latentlab ARGV`` (without --nproc) as ``nproc`` processes of one job on this machine, under
    torchrun (PyTorch's launcher). For `train` without --out or --resume the run folder is chosen here, so
    that every message can name it. Returns the exit code: 0, or the failed process's code (2 bad input,
    3 disk full, 130 interrupted), or 1 when a process died."""
    argv = list(argv)
    if argv[:1] == ["train"] and len(argv) > 1 and _option(argv, "--out") is None and _option(argv, "--resume") is None:
        from latentlab.config import train_defaults
        from latentlab.models import get_model_class
        from latentlab.training.run_folder import default_run_dir
        try:
            dataset = _option(argv, "--dataset") or train_defaults(get_model_class(argv[1]))["dataset"]
            argv += ["--out", str(default_run_dir(argv[1], dataset))]
        except Exception:  # noqa: BLE001 (an unknown model: each process says so itself)
            pass
    cmd = [sys.executable, "-m", "latentlab.training.distributed", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "latentlab", *argv]
    print("launching: " + " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def failure_line(rank: int, nproc: int | None, exitcode: int, run_dir: str | None) -> tuple[str | None, int]:
    """(one line for stderr or None, exit code) for the first process of a job that failed."""
    if exitcode in (2, 3):  # bad input or a full disk: that process said so itself, with the fix
        return None, exitcode
    if exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-exitcode}"
    else:
        how = f"exited with code {exitcode}"
    of = f" of {nproc}" if nproc else ""
    where = f" in {run_dir} is kept; continue with --resume {run_dir}" if run_dir else \
        "; continue with --resume RUN_DIR (the run folder the job wrote)"
    return (f"latentlab: training stopped: process {rank}{of} {how}, so the job stopped; "
            f"the last complete checkpoint{where}"), (130 if exitcode == 130 else 1)


def _torchrun(args: list[str]) -> int:
    """torchrun's ``run`` with its ChildFailedError turned into ``failure_line``."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run
    try:
        run(parse_args(args))
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        nproc = _option(args, "--nproc-per-node") or _option(args, "--nproc_per_node")
        rest = args[args.index("latentlab") + 1:] if "latentlab" in args else args
        line, code = failure_line(rank, int(nproc) if nproc and nproc.isdigit() else None, failure.exitcode,
                                  _option(rest, "--resume") or _option(rest, "--out"))
        if line:
            print(line, file=sys.stderr, flush=True)
        return code
    return 0


if __name__ == "__main__":  # python -m latentlab.training.distributed [torchrun options] -m latentlab ARGS
    sys.exit(_torchrun(sys.argv[1:]))
