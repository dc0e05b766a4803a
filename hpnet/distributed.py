"""Process-group plumbing for ``torchrun``: initialise from the environment, rank queries, barriers, small collectives.

``torchrun --nproc_per_node N ...`` starts N processes and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` in each. `init_from_env` turns that into a process group (NCCL when the
run trains on CUDA, each process on the GPU ``LOCAL_RANK``; gloo on CPU). Without those variables, or with
``WORLD_SIZE=1``, nothing is initialised and every function below answers as for a single process
(``rank() == 0``, ``world_size() == 1``, ``barrier()`` returns at once), so single-process runs are unchanged.

Files shared by the ranks (checkpoints, run folders) are written by rank 0 only; `barrier` is what makes
the other ranks wait until those files are complete before they read them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

logger = logging.getLogger(__name__)

T = TypeVar("T")

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# Rank 0 alone runs the non-learned methods and the evaluation while the other ranks wait in a barrier;
# ELF features of 100k images can take well over the default 30 minutes.
DEFAULT_TIMEOUT = timedelta(hours=3)


def is_initialized() -> bool:
    """Whether a process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    return dist.get_world_size() if is_initialized() else 1


def local_rank() -> int:
    """This process's rank on its machine (``LOCAL_RANK``; 0 without a process group)."""
    return int(os.environ.get("LOCAL_RANK", "0")) if is_initialized() else 0


def is_main() -> bool:
    """Whether this process is rank 0 (the one that writes files and logs)."""
    return rank() == 0


def backend() -> str | None:
    """The process group's backend (``nccl``, ``gloo``), None without one."""
    return dist.get_backend() if is_initialized() else None


def launched_world_size() -> int:
    """The number of processes torchrun started (``WORLD_SIZE`` when its variables are set), before any init; else 1."""
    if any(k not in os.environ for k in ENV_VARS):
        return 1
    try:
        return int(os.environ["WORLD_SIZE"])
    except ValueError:
        found = os.environ["WORLD_SIZE"]
        raise ValueError(f"torchrun environment: WORLD_SIZE must be an integer, found {found!r}") from None


def init_from_env(device: str = "auto", *, timeout: timedelta = DEFAULT_TIMEOUT) -> bool:
    """Initialise the default process group from torchrun's environment; returns whether one is running.

    ``device`` is the run's device setting (``auto``, ``cpu``, ``cuda``): with CUDA in use the backend is
    NCCL and this process's current GPU becomes ``cuda:LOCAL_RANK``; otherwise gloo. Without torchrun's
    variables, or with ``WORLD_SIZE=1``, nothing happens and False is returned.
    """
    if is_initialized():
        return True
    missing = [k for k in ENV_VARS if k not in os.environ]
    if missing:
        if len(missing) < len(ENV_VARS):
            logger.warning("distributed: %s set but %s missing; running as a single process",
                           ", ".join(k for k in ENV_VARS if k not in missing), ", ".join(missing))
        return False
    size = launched_world_size()
    try:
        local = int(os.environ["LOCAL_RANK"])
    except ValueError:
        found = os.environ["LOCAL_RANK"]
        raise ValueError(f"torchrun environment: LOCAL_RANK must be an integer, found {found!r}") from None
    if size <= 1:
        return False
    use_cuda = _uses_cuda(device)
    if use_cuda:
        if local >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local} has no GPU: this machine has {torch.cuda.device_count()}; "
                             f"start at most that many processes per node")
        torch.cuda.set_device(local)
    name = "nccl" if use_cuda else "gloo"
    dist.init_process_group(backend=name, timeout=timeout)
    logger.info("distributed: rank %d of %d (local rank %d), backend %s", dist.get_rank(), dist.get_world_size(),
                local, name)
    return True


def _uses_cuda(device: str) -> bool:
    device = str(device)
    if device == "cpu":
        return False
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was requested but CUDA is not available")
        return True
    return torch.cuda.is_available()


def cleanup() -> None:
    """Destroy the default process group, if one is initialised (call once, at the end of the program)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (no-op for a single process)."""
    if not is_initialized():
        return
    if backend() == "nccl":
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


def comm_device() -> torch.device:
    """Where tensors for collectives live: the current GPU under NCCL, else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if backend() == "nccl" else torch.device("cpu")


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over the ranks (float64; the values themselves for a single process)."""
    if not is_initialized():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().tolist()


def all_gather_object(obj: T) -> list[T]:
    """Every rank's ``obj`` (picklable), in rank order (``[obj]`` for a single process)."""
    if not is_initialized():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: T, src: int = 0) -> T:
    """Rank ``src``'s ``obj`` on every rank (picklable)."""
    if not is_initialized():
        return obj
    box = [obj if rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def broadcast_buffers(module: nn.Module, src: int = 0) -> None:
    """Overwrite every buffer of ``module`` (batch-norm statistics) with rank ``src``'s, in place."""
    if not is_initialized():
        return
    for buf in module.buffers():
        dist.broadcast(buf.data, src=src)


def from_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and return its result on every rank; an exception it raises is raised on every rank.

    The result and the exception must be picklable (an exception that is not becomes a RuntimeError naming it).
    """
    if not is_initialized():
        return fn()
    outcome: tuple[bool, Any] = (True, None)
    if is_main():
        try:
            outcome = (True, fn())
        except Exception as exc:  # noqa: BLE001 - re-raised below on every rank
            outcome = (False, _picklable(exc))
    ok, value = broadcast_object(outcome)
    if not ok:
        raise value
    return value


def main_first(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0, then (if it succeeded) on the other ranks; every rank returns its own result.

    For work whose first call writes a shared cache (rendering a synthetic set): the others then only read it.
    An exception on rank 0 is raised on every rank.
    """
    if not is_initialized():
        return fn()
    if is_main():
        try:
            result = fn()
        except Exception as exc:
            broadcast_object((False, _picklable(exc)))
            raise
        broadcast_object((True, None))
        return result
    ok, error = broadcast_object((True, None))
    if not ok:
        raise error
    return fn()


def _picklable(exc: Exception) -> Exception:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"rank 0 failed: {type(exc).__name__}: {exc}")


__all__ = [
    "DEFAULT_TIMEOUT", "all_gather_object", "all_reduce_sum", "backend", "barrier", "broadcast_buffers",
    "broadcast_object", "cleanup", "comm_device", "from_main", "init_from_env", "is_initialized", "is_main",
    "launched_world_size", "local_rank", "main_first", "rank", "world_size",
]
