"""pa100k: pedestrian attribute datasets (PA-100K, RAP, PETA, synthetic), metrics and splits."""

from pa100k.attribute_set import AttributeSet, ImageDecodeError, open_image
from pa100k.datasets import DATASETS, list_datasets, load, register_dataset
from pa100k.fileio import atomic_write, data_home
from pa100k.registry import Registry
from pa100k.schemas import AttributeSchema, get_schema, list_schemas, register_schema

__version__ = "0.1.0"

# Lazily resolved so that `import pa100k` stays light (no `datasets`, no torch).
_LAZY = {
    "from_hf": "pa100k.hf", "export_hf": "pa100k.hf", "push_hf": "pa100k.hf",
    "load_reid": "pa100k.reid", "list_reid_datasets": "pa100k.reid", "ReIDSet": "pa100k.reid",
    "tracklet_split": "pa100k.splits", "identity_split": "pa100k.splits",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pa100k' has no attribute {name!r}")


__all__ = [
    "DATASETS",
    "AttributeSchema",
    "AttributeSet",
    "ImageDecodeError",
    "ReIDSet",
    "Registry",
    "__version__",
    "atomic_write",
    "data_home",
    "export_hf",
    "from_hf",
    "get_schema",
    "identity_split",
    "list_datasets",
    "list_reid_datasets",
    "list_schemas",
    "load",
    "load_reid",
    "open_image",
    "push_hf",
    "register_dataset",
    "register_schema",
    "tracklet_split",
]
