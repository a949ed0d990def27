"""Multi-process training on PyTorch's own engine (torchrun + DistributedDataParallel).

Without torchrun every function answers for a single process (rank 0 of 1) and
``wrap`` returns the model itself. Under torchrun (RANK, WORLD_SIZE, MASTER_ADDR
set in the environment) ``init`` joins the process group: gloo on the CPU, nccl
on CUDA, with a timeout (``LATENTLAB_DIST_TIMEOUT`` seconds, default 120) so that
a dead process makes the others fail instead of waiting forever.

Batch norm: on CUDA it becomes SyncBatchNorm (statistics over the global batch);
on the CPU each rank normalises with its own batch statistics and DDP broadcasts
rank 0's running averages (SyncBatchNorm has no CPU kernel).
"""
from __future__ import annotations

import datetime
import math
import os

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
    if not is_distributed():
        return flag
    return all_reduce_sum([float(flag)])[0] > 0


def num_batches(n: int, batch_size: int) -> int:
    """Batches per epoch on this rank (each rank holds ceil(n / world) indices)."""
    return math.ceil(math.ceil(n / world_size()) / batch_size)


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around the whole model (both networks of a GAN); the model itself otherwise."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index], find_unused_parameters=True)
    # Parameters of the group that is not stepping are frozen each step: find_unused_parameters lets DDP skip them.
    return DistributedDataParallel(model, find_unused_parameters=True)
