"""Process-group facts for the training loop. Without torchrun every function
answers for a single process (rank 0 of 1) and ``wrap`` returns the model itself."""
from __future__ import annotations

import math
import os

import torch
import torch.distributed as tdist


def is_distributed() -> bool:
    return tdist.is_available() and tdist.is_initialized()


def rank() -> int:
    return tdist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return tdist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def barrier() -> None:
    if is_distributed():
        tdist.barrier()


def num_batches(n: int, batch_size: int) -> int:
    """Batches per epoch on this rank (each rank holds ceil(n / world) indices)."""
    return math.ceil(math.ceil(n / world_size()) / batch_size)


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
