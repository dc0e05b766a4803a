"""RAP v2 (Li et al. 2018) and its zero-shot variant RAPzs (Jia et al. 2021).

The struct ``RAP_annotation`` in ``RAP_annotation/RAP_annotation.mat`` has fields ``name`` (84928 cells),
``data`` (84928 x 152, 0/1 and 2 = uncertain), ``attribute`` (152 names), ``selected_attribute`` (the 54
benchmark columns, 1-based) and ``partition_attribute`` (5 cells, each a struct with ``train_index``,
``val_index`` and ``test_index``, 1-based; 50957 / 16986 / 16985).

RAPzs evaluates 53 attributes (no Age46-60) on a split with disjoint identities that is not part of the
official release: pass ``split_file`` (a JSON file ``{"train": [...], "val": [...], "test": [...]}`` with
0-based row indices) or put Rethinking_of_PAR's ``dataset_zs_run{partition}.pkl`` in the root.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import ClassVar

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.datasets import register_dataset
from pa100k.loaders import _mat
from pa100k.schemas import get_schema

ANNOTATION = ("RAP_annotation/RAP_annotation.mat", "RAP_annotation.mat")
IMAGES = "RAP_dataset"
NUM_SELECTED = 54
ZERO_SHOT_DROPPED = "Age46-60"
ZS_PICKLE = "dataset_zs_run{partition}.pkl"


@register_dataset("rap2")
def load_rap2(
    root: Path,
    *,
    partition: int = 0,
    zero_shot: bool = False,
    split_file: str | Path | None = None,
    check_images: bool = True,
) -> AttributeSet:
    """Load RAP v2: 54 selected attributes and official partition ``partition``, or RAPzs (53, zero-shot split).

    ``split_file`` (JSON of 0-based train/val/test indices) replaces the official partition in either case.
    """
    root = _mat.require_root(root, "rap2", f"{ANNOTATION[0]} and {IMAGES}/")
    schema = get_schema("rap2zs" if zero_shot else "rap2")
    path = _mat.find_file(root, ANNOTATION, "rap2")
    ann = _mat.key(_mat.load_mat(path), "RAP_annotation", path)
    where = f"{path}: 'RAP_annotation'"

    names = _mat.strings(_mat.field(ann, "name", where), f"{where}.name")
    n = len(names)
    all_names = _mat.strings(_mat.field(ann, "attribute", where), f"{where}.attribute")
    raw = _mat.matrix(_mat.field(ann, "data", where), f"{where}.data", (n, len(all_names)))
    selected = _mat.indices(_mat.field(ann, "selected_attribute", where), f"{where}.selected_attribute", len(all_names))
    if len(selected) != NUM_SELECTED:
        raise ValueError(f"{where}.selected_attribute: expected {NUM_SELECTED} indices, found {len(selected)}")
    rap2_names = get_schema("rap2").attributes
    columns = [c for c, name in zip(selected, rap2_names) if name in schema.attributes]
    _mat.check_names([all_names[c] for c in columns], schema.attributes, f"{where}.attribute(selected_attribute)")
    labels, mask = _mat.labels_and_mask(raw[:, columns], f"{where}.data", (n, schema.num_attributes), schema.attributes)

    if split_file is not None or zero_shot:
        splits = _zero_shot_splits(root, partition, split_file, n)
    else:
        parts = _mat.cells(_mat.field(ann, "partition_attribute", where), f"{where}.partition_attribute")
        partition = _mat.check_partition(partition, len(parts), "rap2", path)
        pw = f"{where}.partition_attribute{{{partition}}}"
        splits = {
            split: _mat.indices(_mat.field(parts[partition], f"{split}_index", pw), f"{pw}.{split}_index", n)
            for split in ("train", "val", "test")
        }

    if check_images:
        _mat.check_images(root / IMAGES, names, path, "rap2")
    return AttributeSet(
        schema=schema,
        names=np.asarray(names),
        images=[root / IMAGES / name for name in names],
        labels=labels,
        splits=splits,
        mask=mask,
        dataset="rap2zs" if zero_shot else "rap2",
        root=root,
    )


def _zero_shot_splits(root: Path, partition: int, split_file: str | Path | None, n: int) -> dict[str, np.ndarray]:
    """The RAPzs train/val/test split from a JSON file or Rethinking_of_PAR's ``dataset_zs_run{k}.pkl``."""
    path = Path(split_file) if split_file is not None else root / ZS_PICKLE.format(partition=partition)
    if not path.is_file():
        raise FileNotFoundError(
            f"rap2: zero-shot split file {path} not found; the RAPzs split is not in the official release: pass "
            f"split_file= a JSON file {{\"train\": [...], \"val\": [...], \"test\": [...]}} of 0-based row indices, "
            f"or place Rethinking_of_PAR's {ZS_PICKLE.format(partition=partition)} in {root}"
        )
    if path.suffix == ".json":
        with open(path, encoding="utf-8") as fh:
            try:
                raw = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: not valid JSON ({exc})") from None
    else:
        raw = _read_rethinking_pickle(path)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with train, val and test, found {type(raw).__name__}")
    splits = {}
    for split in ("train", "val", "test"):
        if split not in raw:
            raise ValueError(f"{path}: split {split!r} is missing; found {', '.join(map(str, raw)) or '(none)'}")
        idx = np.asarray(raw[split])
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise ValueError(f"{path}: split {split!r} must be a list of integer row indices, found {idx.dtype} {idx.shape}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{path}: split {split!r} indices must lie in [0, {n}), found [{idx.min()}, {idx.max()}]")
        splits[split] = idx
    return splits


class _AttrDict(dict):
    """Stand-in for ``easydict.EasyDict`` when reading Rethinking_of_PAR's pickles (no third-party import)."""


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles only dicts, lists, numpy arrays and EasyDicts: no other class can be constructed."""

    _ALLOWED: ClassVar[dict[tuple[str, str], object]] = {
        ("easydict", "EasyDict"): _AttrDict,
        ("collections", "OrderedDict"): dict,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            from numpy._core import multiarray

            return getattr(multiarray, name)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            from numpy._core import numeric

            return numeric._frombuffer
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_rethinking_pickle(path: Path) -> dict[str, np.ndarray]:
    """``partition.train/val/test`` of a Rethinking_of_PAR dataset description (pickled EasyDict)."""
    try:
        with open(path, "rb") as fh:
            obj = _SafeUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a Rethinking_of_PAR dataset description ({exc})") from None
    part = obj.get("partition") if isinstance(obj, dict) else None
    if not isinstance(part, dict):
        raise ValueError(f"{path}: expected a pickled EasyDict with a 'partition' entry (train, val, test)")
    return dict(part)
