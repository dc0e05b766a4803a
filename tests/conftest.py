"""Shared, generic fixtures: an isolated data home and a writer of small real images."""

from __future__ import annotations

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
