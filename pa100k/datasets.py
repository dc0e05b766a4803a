"""The dataset registry: ``pa100k.load(name, root=None, **options) -> AttributeSet``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pa100k.attribute_set import AttributeSet
from pa100k.fileio import data_home
from pa100k.registry import Registry

DatasetLoader = Callable[..., AttributeSet]
DATASETS: Registry[DatasetLoader] = Registry("dataset")


def register_dataset(name: str) -> Callable[[DatasetLoader], DatasetLoader]:
    """Decorator registering a loader ``fn(root: Path, **options) -> AttributeSet``."""
    return DATASETS.register(name)


def _ensure_loaders() -> None:
    import pa100k.loaders  # noqa: F401  (registers the built-in loaders)


def list_datasets() -> list[str]:
    """Names of the registered attribute datasets."""
    _ensure_loaders()
    return DATASETS.names()


def load(name: str, root: str | Path | None = None, **options) -> AttributeSet:
    """Load dataset ``name`` from ``root`` (default: ``data_home()/name``) through the registry."""
    _ensure_loaders()
    loader = DATASETS.get(name)
    root_path = Path(root).expanduser() if root is not None else data_home() / name
    return loader(root_path, **options)
