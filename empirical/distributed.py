"""torchrun support: which process this is, its device, and sharing rank 0's objects with the others.

Under torchrun (WORLD_SIZE > 1) rank 0 alone reads and writes run folders; every rank trains, on the device
of its LOCAL_RANK (so several nodes work), and receives what it trains on from rank 0. A plain process is
rank 0 of a world of 1 and every function here is then a no-op.
"""
from __future__ import annotations

import os

import torch


def world() -> tuple[int, int]:
    """(RANK, WORLD_SIZE) from the environment torchrun sets; (0, 1) for a plain process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def is_main() -> bool:
    return world()[0] == 0


def check_device(device: str) -> torch.device:
    """``device`` as a torch.device, or a ValueError saying why it cannot be used here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device {device!r} is not a torch device ({e}); use cpu, cuda, cuda:1, mps ...") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: CUDA is not available on this machine; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA devices")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r}: MPS is not available on this machine; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r}: only cpu, cuda and mps are supported")
    return dev


def process_device(device: str) -> torch.device:
    """This process's device: under torchrun a CUDA run uses cuda:LOCAL_RANK (set as the current device,
    which NCCL needs); otherwise ``device`` itself."""
    dev = check_device(device)
    rank, size = world()
    if size > 1 and dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(dev)
    return dev


def init(device: str) -> torch.device:
    """Join the process group (once) when WORLD_SIZE > 1; returns this process's device."""
    dev = process_device(device)
    if world()[1] > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev


def share(obj):
    """Rank 0's ``obj`` on every rank (pickled broadcast); ``obj`` itself in a plain process."""
    if world()[1] == 1:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if world()[1] > 1:
        torch.distributed.barrier()
