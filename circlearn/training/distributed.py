"""``torch.distributed`` plumbing for training and evaluation (``yt8m.md`` §4.3).

Launch one process per device with torchrun (it sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``)::

    torchrun --nproc_per_node=4 -m circlearn train --train-dir runs/x ...          # one node
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 \\
             --rdzv_backend=c10d --rdzv_endpoint=HOST:29400 -m circlearn train ...  # per node

The backend is NCCL on CUDA and gloo on CPU. Conventions:

- **Batch**: ``batch_size`` is per process; the global batch is ``batch_size × world``.
  Gradients are averaged (``DistributedDataParallel``), so one step equals one process on
  the global batch with the loss averaged over it. (The paper's towers *summed* gradients;
  under per-tensor clipping at 1.0 and Adam that differs only through the clipping
  threshold.) The learning-rate schedule counts global examples.
- **Data**: every rank reads its own share (``YT8MLoader(rank=, world_size=)``) and all ranks
  run the same number of steps (the ragged tail of each epoch is dropped).
- **Batch norm**: statistics per rank by default, like the paper's towers;
  ``sync_batch_norm=True`` uses ``nn.SyncBatchNorm``. Running averages are broadcast from
  rank 0 before every forward (DDP's default) and before evaluations and checkpoints.
- **Frame sampling** draws from a per-rank generator, so a frame-level model under DDP
  samples different frames than one process on the global batch: equal in distribution,
  not bit for bit. Video-level models (no sampling) without batch norm match exactly; the
  2-process test checks that.
- **Writing**: only rank 0 writes the run directory; metrics are gathered over all ranks
  (:class:`circlearn.metrics.EvaluationMetrics` with ``distributed=ctx.distributed``).
- **Explicit context**: every collective here acts on what a :class:`DistContext` says, not
  on ``torch.distributed``'s global state; code that calls these functions (or
  ``evaluate``) without a context runs alone even inside a process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistContext", "setup", "teardown", "all_gather_objects", "all_reduce_sum",
           "broadcast_buffers", "wrap_model", "pick_device", "current_rank", "DEVICES"]

#: The device choices of every command and config (``TrainConfig.device``, ``--device``).
DEVICES = ("auto", "cpu", "cuda")


def pick_device(preference: str = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"``: CUDA (device ``local_rank``) when available, else CPU."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but CUDA is not available")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if preference not in DEVICES:
        raise ValueError(f"device {preference!r}; valid: {', '.join(DEVICES)}")
    return torch.device("cpu")


@dataclass
class DistContext:
    """Where this process stands: rank, world size, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), or run alone."""
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        return DistContext(rank, world, local, pick_device(device, local), False)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(device=pick_device(device))
    if "RANK" not in os.environ:
        raise ValueError(f"WORLD_SIZE={world} but RANK is not set: start each process with "
                         f"torchrun, or unset WORLD_SIZE to run alone")
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return DistContext(rank, world, local, dev, True)


def current_rank() -> int:
    """This process's rank: the process group's when one is joined, else the one torchrun
    gives it (``RANK``), else 0 (a process on its own). Code that writes files once per job
    asks this, between or after the :func:`setup`/:func:`teardown` of its runs."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def teardown(ctx: DistContext, synchronize: bool = True) -> None:
    """Leave the process group this process joined in :func:`setup`.

    ``synchronize``: wait at a barrier first, so no rank tears gloo down while another still
    has traffic in flight (without it, gloo aborted a rank at exit in ~1 of 10 two-process
    runs: "terminate called without an active exception"). After an error the barrier is
    skipped: the other ranks may never reach it.
    """
    if ctx.owns_group and dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


def all_gather_objects(obj, ctx: DistContext) -> list:
    """Every rank's ``obj`` (a list of one when alone)."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Sum float64 values over ranks (exact order-independent up to float64 round-off)."""
    if not ctx.distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64,
                     device=ctx.device if ctx.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return t.cpu().tolist()


def broadcast_buffers(model: nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's buffers (batch-norm running statistics) to every rank."""
    if ctx.distributed:
        for b in model.buffers():
            dist.broadcast(b.data, src=0)


def wrap_model(model: nn.Module, ctx: DistContext, sync_batch_norm: bool = False) -> nn.Module:
    """``DistributedDataParallel`` (with ``SyncBatchNorm`` when asked) or the model itself."""
    if not ctx.distributed:
        return model
    if sync_batch_norm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)
