"""The synthetic PA-100K-like dataset: rendered on first use into the data home, read by the ``pa100k`` loader.

``pa100k.load("synthetic", preset="small", seed=0)`` renders ``data_home()/synthetic/<preset>-seed<seed>/``
once (atomically: a temporary folder renamed when complete) in the official PA-100K layout plus the
``tracklets.csv`` sidecar, then reads it exactly as the real release is read, so that ``meta`` carries
per-image ``tracklet``, ``identity``, ``camera`` and ``scene``. An explicit ``root`` is the dataset folder
itself (rendered there if empty or missing).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.datasets import register_dataset
from pa100k.fileio import data_home
from pa100k.loaders.pa100k import load_pa100k
from pa100k.synthetic.presets import get_preset
from pa100k.synthetic.render import ensure_rendered


def default_root(preset: str = "small", seed: int = 0) -> Path:
    """Where ``pa100k.load("synthetic", preset=..., seed=...)`` keeps its render."""
    return data_home() / "synthetic" / f"{get_preset(preset).name}-seed{int(seed)}"


@register_dataset("synthetic")
def load_synthetic(root: Path | None = None, preset: str = "small", seed: int = 0, workers: int | None = None,
                   check_images: bool = True) -> AttributeSet:
    """The synthetic set of ``preset`` (tiny, small, full) and ``seed``, rendered on first use with ``workers`` processes."""
    p = get_preset(preset)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"synthetic: seed must be a non-negative integer, found {seed!r}")
    if root is None or Path(root) == data_home() / "synthetic":  # the registry's default root
        root = default_root(p.name, seed)
    root = ensure_rendered(root, p, int(seed), workers=workers)
    aset = load_pa100k(root, check_images=check_images)
    return dataclasses.replace(aset, dataset="synthetic")
