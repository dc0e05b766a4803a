"""pa100k: pedestrian attribute datasets (PA-100K, RAP, PETA, synthetic), metrics and splits."""

from pa100k.attribute_set import AttributeSet, ImageDecodeError, open_image
from pa100k.datasets import DATASETS, list_datasets, load, register_dataset
from pa100k.fileio import atomic_write, data_home
from pa100k.registry import Registry
from pa100k.schemas import AttributeSchema, get_schema, list_schemas, register_schema

__version__ = "0.1.0"

__all__ = [
    "AttributeSchema", "AttributeSet", "DATASETS", "ImageDecodeError", "Registry", "atomic_write",
    "data_home", "get_schema", "list_datasets", "list_schemas", "load", "open_image", "register_dataset",
    "register_schema", "__version__",
]
