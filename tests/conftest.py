"""Shared, generic fixtures: an isolated data home, a writer of small real images, one torch thread, two ranks."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def pa100k_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty ``$PA100K_HOME`` for tests that could touch the data home."""
    home = tmp_path / "pa100k-home"
    home.mkdir()
    monkeypatch.setenv("PA100K_HOME", str(home))
    return home


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """``make_image(path, size=(w, h), seed=0)`` writes a small random RGB image (format from the suffix)."""
    from PIL import Image

    def _make(path: Path, size: tuple[int, int] = (12, 24), seed: int = 0) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
        return path

    return _make


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test (small models: deterministic and no oversubscription), then as before."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def free_port() -> int:
    """A free TCP port on localhost (for a process group's rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    """A free TCP port on localhost."""
    return free_port()


@pytest.fixture(scope="session")
def run_two_ranks() -> Callable[..., list]:
    """``run_two_ranks(worker, folder)``: ``worker(rank, port, folder)`` in two processes with one OpenMP thread
    each; returns what each rank saved to ``folder/rank{r}.pt``."""
    import torch
    import torch.multiprocessing as mp

    def _run(worker: Callable, folder: Path) -> list:
        old = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            # fork: the workers need not import torch again (each sets one thread before any torch work); build
            # an optimizer here first, which pulls in torch's lazy imports (torch._dynamo) once for both
            torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            mp.start_processes(worker, args=(free_port(), str(folder)), nprocs=2, join=True, start_method=method)
        finally:
            if old is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = old
        return [torch.load(Path(folder) / f"rank{r}.pt", weights_only=False) for r in (0, 1)]

    return _run
