"""PA-100K (Liu et al. 2017): ``annotation.mat`` and ``data/*.jpg``, plus the optional ``tracklets.csv`` sidecar.

Layout of the official release (FORMATS.md)::

    root/annotation.mat    train/val/test_images_name (cells), train/val/test_label (N x 26), attributes (26 cells)
    root/data/000001.jpg ... 100000.jpg
    root/tracklets.csv     optional (written by the synthetic dataset): image, scene, camera, tracklet, identity
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.datasets import register_dataset
from pa100k.loaders import _mat
from pa100k.schemas import get_schema

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
TRACKLET_COLUMNS = ("image", "scene", "camera", "tracklet", "identity")
TRACKLETS_FILE = "tracklets.csv"


@register_dataset("pa100k")
def load_pa100k(root: Path, *, check_images: bool = True) -> AttributeSet:
    """Load PA-100K: all images in the order train, val, test, with splits train/val/test (and trainval)."""
    root = _mat.require_root(root, "pa100k", "annotation.mat and data/")
    schema = get_schema("pa100k")
    path = _mat.find_file(root, ["annotation.mat"], "pa100k")
    mat = _mat.load_mat(path)

    names: list[str] = []
    labels, masks, splits = [], [], {}
    for split in SPLITS:
        key = f"{split}_images_name"
        split_names = _mat.strings(_mat.key(mat, key, path), f"{path}: {key!r}")
        key = f"{split}_label"
        lab, mask = _mat.labels_and_mask(
            _mat.key(mat, key, path), f"{path}: {key!r}", (len(split_names), schema.num_attributes), schema.attributes
        )
        splits[split] = np.arange(len(names), len(names) + len(split_names), dtype=np.int64)
        names += split_names
        labels.append(lab)
        masks.append(mask if mask is not None else np.ones(lab.shape, dtype=bool))
    if "attributes" in mat:
        found = _mat.strings(mat["attributes"], f"{path}: 'attributes'", schema.num_attributes)
        _mat.check_names(found, schema.attributes, f"{path}: 'attributes'")
    _check_unique(names, path)

    mask = np.concatenate(masks)
    if check_images:
        _mat.check_images(root / "data", names, path, "pa100k")
    meta = _read_tracklets(root / TRACKLETS_FILE, names) if (root / TRACKLETS_FILE).is_file() else {}
    return AttributeSet(
        schema=schema,
        names=np.asarray(names),
        images=[root / "data" / n for n in names],
        labels=np.concatenate(labels),
        splits=splits,
        mask=None if mask.all() else mask,
        meta=meta,
        dataset="pa100k",
        root=root,
    )


def _check_unique(names: list[str], path: Path) -> None:
    if len(set(names)) != len(names):
        seen, dup = set(), []
        for n in names:
            if n in seen:
                dup.append(n)
            seen.add(n)
        raise ValueError(f"{path}: image names must be unique across splits; repeated: {', '.join(dup[:5])}")


def _read_tracklets(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    """Per-image scene, camera, tracklet and identity from ``tracklets.csv``, aligned with ``names``."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing_cols = [c for c in TRACKLET_COLUMNS if c not in (reader.fieldnames or [])]
        if missing_cols:
            raise ValueError(
                f"{path}: missing columns {missing_cols}; expected {', '.join(TRACKLET_COLUMNS)}, "
                f"found {', '.join(reader.fieldnames or []) or '(empty file)'}"
            )
        rows: dict[str, tuple[int, ...]] = {}
        for line, row in enumerate(reader, start=2):
            image = row["image"]
            if image in rows:
                raise ValueError(f"{path}, line {line}: image {image!r} is listed twice")
            try:
                rows[image] = tuple(int(row[c]) for c in TRACKLET_COLUMNS[1:])
            except (TypeError, ValueError):
                bad = {c: row[c] for c in TRACKLET_COLUMNS[1:]}
                raise ValueError(f"{path}, line {line}: scene, camera, tracklet and identity must be integers, found {bad}") from None
    absent = [n for n in names if n not in rows]
    if absent:
        raise ValueError(
            f"{path}: {len(absent)} images of annotation.mat have no row, e.g. {', '.join(absent[:5])}"
        )
    if len(rows) > len(names):
        log.warning("%s: %d rows name images that annotation.mat does not list; ignored", path, len(rows) - len(names))
    table = np.array([rows[n] for n in names], dtype=np.int64).reshape(len(names), len(TRACKLET_COLUMNS) - 1)
    return {c: table[:, j] for j, c in enumerate(TRACKLET_COLUMNS[1:])}
