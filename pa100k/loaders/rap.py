"""RAP v1 (Li et al. 2016): ``RAP_annotation/RAP_annotation.mat`` and ``RAP_dataset/*.png``.

The struct ``RAP_annotation`` has fields ``imagesname`` (41585 cells), ``label`` (41585 x 92, values 0/1 and
2 = uncertain), ``attribute_eng`` (92 names; the benchmark uses the first 51), ``partion`` (sic; 5 cells, each
a struct with ``train`` and ``test``, 1-based) and others (position, attribute_chinese, attribute_exp) that
are not needed here. The release has no validation set: its training part becomes our ``trainval`` split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.datasets import register_dataset
from pa100k.loaders import _mat
from pa100k.schemas import get_schema

NUM_LABELS = 92
SCHEMAS = {51: "rap", 92: "rap92"}
ANNOTATION = ("RAP_annotation/RAP_annotation.mat", "RAP_annotation.mat")
IMAGES = "RAP_dataset"


@register_dataset("rap")
def load_rap(root: Path, *, partition: int = 0, attributes: int = 51, check_images: bool = True) -> AttributeSet:
    """Load RAP v1 with one of its 5 partitions (trainval 33268 / test 8317) and 51 or 92 attributes.

    Label 2 (uncertain) becomes label 0 with ``mask`` False, so metrics skip it.
    """
    if attributes not in SCHEMAS:
        raise ValueError(f"rap: attributes must be one of {sorted(SCHEMAS)}, found {attributes!r}")
    root = _mat.require_root(root, "rap", f"{ANNOTATION[0]} and {IMAGES}/")
    schema = get_schema(SCHEMAS[attributes])
    path = _mat.find_file(root, ANNOTATION, "rap")
    ann = _mat.key(_mat.load_mat(path), "RAP_annotation", path)
    where = f"{path}: 'RAP_annotation'"

    names = _mat.strings(_mat.field(ann, "imagesname", where), f"{where}.imagesname")
    n = len(names)
    raw = _mat.matrix(_mat.field(ann, "label", where), f"{where}.label", (n, NUM_LABELS))
    labels, mask = _mat.labels_and_mask(
        raw[:, : schema.num_attributes], f"{where}.label", (n, schema.num_attributes), schema.attributes
    )
    found = _mat.strings(_mat.field(ann, "attribute_eng", where), f"{where}.attribute_eng", NUM_LABELS)
    _mat.check_names(found[: schema.num_attributes], schema.attributes, f"{where}.attribute_eng")

    parts = _mat.cells(_mat.field(ann, "partion", where), f"{where}.partion")
    partition = _mat.check_partition(partition, len(parts), "rap", path)
    part_where = f"{where}.partion{{{partition}}}"
    splits = {
        ours: _mat.indices(_mat.field(parts[partition], theirs, part_where), f"{part_where}.{theirs}", n)
        for ours, theirs in (("trainval", "train"), ("test", "test"))
    }

    if check_images:
        _mat.check_images(root / IMAGES, names, path, "rap")
    return AttributeSet(
        schema=schema,
        names=np.asarray(names),
        images=[root / IMAGES / name for name in names],
        labels=labels,
        splits=splits,
        mask=mask,
        dataset="rap",
        root=root,
    )
