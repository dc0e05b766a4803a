"""Datasets the runner knows, by name: how to load each from the command-line options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pa100k.attribute_set import AttributeSet
from pa100k.registry import Registry


@dataclass(frozen=True)
class BenchmarkDataset:
    """A dataset the runner can train and evaluate on."""

    name: str
    task: str
    needs_root: bool
    load: Callable[..., AttributeSet]
    description: str = ""


BENCHMARK_DATASETS: Registry[BenchmarkDataset] = Registry("benchmark dataset")


def _official(name: str, **fixed) -> Callable[..., AttributeSet]:
    def load(data_root: Path | None, data_preset: str, seed: int) -> AttributeSet:
        import pa100k

        return pa100k.load(name, root=data_root, **fixed)

    return load


def _synthetic(data_root: Path | None, data_preset: str, seed: int) -> AttributeSet:
    import pa100k

    return pa100k.load("synthetic", root=data_root, preset=data_preset, seed=0)


for _spec in (
    BenchmarkDataset("synthetic", "attributes", False, _synthetic, "the embedded synthetic PA-100K (rendered on first use)"),
    BenchmarkDataset("pa100k", "attributes", True, _official("pa100k"), "PA-100K official release"),
    BenchmarkDataset("rap", "attributes", True, _official("rap"), "RAP v1, 51 attributes, partition 0"),
    BenchmarkDataset("rap2", "attributes", True, _official("rap2"), "RAP v2, 54 attributes, partition 0"),
    BenchmarkDataset("peta", "attributes", True, _official("peta"), "PETA, 35 attributes, partition 0"),
):
    BENCHMARK_DATASETS.add(_spec.name, _spec)


def load_benchmark_dataset(name: str, data_root: str | Path | None, data_preset: str = "small", seed: int = 0) -> AttributeSet:
    """Load ``name`` for a run; official datasets need ``data_root``."""
    spec = BENCHMARK_DATASETS.get(name)
    if spec.needs_root and data_root is None:
        raise ValueError(f"dataset {name!r} needs --data-root pointing to the official release")
    root = None if data_root is None else Path(data_root).expanduser()
    if root is not None and not root.exists():
        raise FileNotFoundError(f"--data-root {root}: folder not found")
    return ensure_val_split(spec.load(root, data_preset, seed), seed)


def ensure_val_split(data: AttributeSet, seed: int = 0, fraction: float = 1 / 9) -> AttributeSet:
    """Carve a val split out of trainval where a release has none (RAP v1), so checkpoints are never chosen on test.

    Whole tracklets (or identities) go to val when the set has them; otherwise images, seeded.
    """
    if "val" in data.splits or "trainval" not in data.splits:
        return data
    import numpy as np

    trainval = data.splits["trainval"]
    groups = next((data.meta[k][trainval] for k in ("tracklet", "identity") if k in data.meta), trainval)
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    val_groups = rng.permutation(uniq)[: max(1, round(fraction * len(uniq)))]
    is_val = np.isin(groups, val_groups)
    splits = dict(data.splits)
    splits["train"], splits["val"] = trainval[~is_val], trainval[is_val]
    return data.with_splits(splits)
