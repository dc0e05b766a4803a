"""PETA (Deng et al. 2014): ``PETA.mat`` and ``images/%05d.png``.

``PETA.mat`` holds one struct ``peta`` with fields ``data`` (19000 x 109: column 0 the image id, columns 1-3
undocumented, columns 4.. the 105 binary labels), ``attribute`` (105 names), ``selected_attribute`` and
``partion_attribute`` (sic; 5 cells, each a struct with ``train``, ``val`` and ``test``, 1-based row
indices). Images are named by row, ``%05d.png`` % (row + 1), as every public toolkit reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.datasets import register_dataset
from pa100k.loaders import _mat
from pa100k.schemas import get_schema

LABEL_OFFSET = 4  # label columns start after the id and three undocumented columns
NUM_LABELS = 105
SCHEMAS = {35: "peta", 105: "peta105"}  # the benchmark's first 35 columns, or all 105


@register_dataset("peta")
def load_peta(root: Path, *, partition: int = 0, attributes: int = 35, check_images: bool = True) -> AttributeSet:
    """Load PETA with one of its 5 random partitions (train 9500 / val 1900 / test 7600) and 35 or 105 attributes."""
    if attributes not in SCHEMAS:
        raise ValueError(f"peta: attributes must be one of {sorted(SCHEMAS)}, found {attributes!r}")
    root = _mat.require_root(root, "peta", "PETA.mat and images/")
    schema = get_schema(SCHEMAS[attributes])
    path = _mat.find_file(root, ["PETA.mat"], "peta")
    peta = _mat.key(_mat.load_mat(path), "peta", path)
    where = f"{path}: 'peta'"

    data = _mat.matrix(_mat.field(peta, "data", where), f"{where}.data", (None, LABEL_OFFSET + NUM_LABELS))
    n = data.shape[0]
    labels, mask = _mat.labels_and_mask(
        data[:, LABEL_OFFSET:LABEL_OFFSET + schema.num_attributes], f"{where}.data[:, {LABEL_OFFSET}:]",
        (n, schema.num_attributes), schema.attributes,
    )
    found = _mat.strings(_mat.field(peta, "attribute", where), f"{where}.attribute", NUM_LABELS)
    _mat.check_names(found[: schema.num_attributes], schema.attributes, f"{where}.attribute")

    parts = _mat.cells(_mat.field(peta, "partion_attribute", where), f"{where}.partion_attribute")
    partition = _mat.check_partition(partition, len(parts), "peta", path)
    part_where = f"{where}.partion_attribute{{{partition}}}"
    splits = {
        split: _mat.indices(_mat.field(parts[partition], split, part_where), f"{part_where}.{split}", n)
        for split in ("train", "val", "test")
    }

    names = [f"{i + 1:05d}.png" for i in range(n)]
    if check_images:
        _mat.check_images(root / "images", names, path, "peta")
    return AttributeSet(
        schema=schema,
        names=np.asarray(names),
        images=[root / "images" / name for name in names],
        labels=labels,
        splits=splits,
        mask=mask,
        dataset="peta",
        root=root,
    )
