"""One process or many: torchrun's environment, DistributedDataParallel, samplers, reductions.

`torchrun --nproc_per_node N -m netc train ...` (or `--nnodes`/`--rdzv-endpoint` for several
machines) sets RANK, WORLD_SIZE and LOCAL_RANK; without them netc trains in one process.
`--batch` is the *global* batch: each of the N processes takes batch/N samples a step, and
DistributedDataParallel averages the gradients, so a run's numbers do not depend on how many
processes share it (for SGD: one process with batch B takes the same steps as two with B/2 each;
`tests/test_ddp.py` checks it).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

T = TypeVar("T")

# Bound how long a rank waits for the others (a dead peer must not hang a CI job forever).
DEFAULT_TIMEOUT = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class Context:
    """Where this process runs and which part of the work it does."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, metrics and the progress display."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    """`auto` is CUDA when torch sees a GPU, else CPU; under torchrun each process takes the
    GPU of its local rank."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda: torch sees no CUDA device")
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    return torch.device("cpu")


def setup(device_choice: str, timeout: datetime.timedelta = DEFAULT_TIMEOUT) -> Context:
    """Join torchrun's process group when there is one (gloo on CPU, nccl on CUDA)."""
    world = env_world_size()
    if world <= 1:
        return Context(0, 1, 0, resolve_device(device_choice))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_choice, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(
            backend=backend,
            timeout=timeout,
            device_id=device if device.type == "cuda" else None,
        )
    return Context(rank, world, local_rank, device)


def teardown(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, ctx: Context) -> torch.nn.Module:
    """The module each rank trains: DistributedDataParallel over the process group."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def sum_across(values: Sequence[float], ctx: Context) -> list[float]:
    """Element-wise sums over all ranks (float64, so counts stay exact)."""
    if not ctx.distributed:
        return list(values)
    # nccl reduces only CUDA tensors; gloo CPU ones
    tensor = torch.tensor(list(values), dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.cpu().tolist()]


def gather_objects(obj: Any, ctx: Context) -> list[Any]:
    """Every rank's `obj`, in rank order (on every rank)."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()


def broadcast_object(obj: T, ctx: Context) -> T:
    """Rank 0's `obj`, on every rank (pickled: only between this run's own processes)."""
    if not ctx.distributed:
        return obj
    out = [obj if ctx.is_main else None]
    dist.broadcast_object_list(out, src=0)
    return cast(T, out[0])


class EpochSampler(Sampler[int]):
    """A fresh permutation each epoch from (seed, epoch) alone, shared by all ranks; rank r takes
    positions r, r + W, r + 2W, ... So the global batch k, the union of every rank's batch k, is
    positions [kB, (k+1)B) of the permutation, whatever the number of ranks W — one process with
    batch B sees exactly what W processes with B/W each see together. The permutation is padded
    by wrapping around to a multiple of W, so every rank takes the same number of steps (as
    torch's DistributedSampler does); with one rank nothing is padded.

    The order depends on nothing else (no global RNG), so a resumed run replays it exactly."""

    def __init__(self, size: int, rank: int, world_size: int, seed: int, shuffle: bool = True):
        self.size = size
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.per_rank = -(-size // world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> list[int]:
        """The whole permutation of this epoch, before padding and splitting."""
        if not self.shuffle:
            return list(range(self.size))
        generator = torch.Generator()
        generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        return [int(i) for i in torch.randperm(self.size, generator=generator).tolist()]

    def __iter__(self) -> Iterator[int]:
        indices = self.order()
        total = self.per_rank * self.world_size
        if total > len(indices) and indices:
            indices += (indices * (total // len(indices) + 1))[: total - len(indices)]
        return iter(indices[self.rank : total : self.world_size])

    def __len__(self) -> int:
        return self.per_rank


class ShardSampler(Sampler[int]):
    """Evaluation: rank r takes samples r, r + W, ...; nothing repeated, so sums over ranks are
    exactly the whole set's."""

    def __init__(self, size: int, rank: int, world_size: int):
        self.indices = list(range(rank, size, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
