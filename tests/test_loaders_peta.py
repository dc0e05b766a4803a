"""PETA loader on a small PETA.mat written with the release's nesting (struct peta, 5 partitions)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

import pa100k
from pa100k.schemas import get_schema

N = 12
PARTS = 5


def _cell(strings):
    out = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        out[i, 0] = np.array([s])
    return out


def write_peta(root, make_image, seed=0, with_images=True, labels=None, drop_field=None):
    """PETA.mat with peta.{data, attribute, selected_attribute, partion_attribute} and images/%05d.png."""
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = rng.integers(0, 2, size=(N, 105))
    data = np.zeros((N, 109))
    data[:, 0] = np.arange(1, N + 1)
    data[:, 1:4] = rng.integers(0, 9, size=(N, 3))
    data[:, 4:] = labels
    partitions = np.empty((PARTS, 1), dtype=object)
    truth = []
    for k in range(PARTS):
        perm = rng.permutation(N) + 1  # 1-based, as in the release
        split = {"train": perm[:6], "val": perm[6:8], "test": perm[8:]}
        partitions[k, 0] = {s: v.reshape(-1, 1).astype(np.float64) for s, v in split.items()}  # (n, 1) columns
        truth.append({s: (v - 1).tolist() for s, v in split.items()})
    peta = {
        "data": data,
        "attribute": _cell(get_schema("peta105").attributes),
        "selected_attribute": np.arange(1, 36, dtype=np.float64).reshape(1, -1),
        "partion_attribute": partitions,
    }
    if drop_field:
        del peta[drop_field]
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "PETA.mat", {"peta": peta})
    if with_images:
        for i in range(N):
            make_image(root / "images" / f"{i + 1:05d}.png", seed=i)
    return labels, truth


def test_fixture_nesting_matches_the_toolkits(tmp_path, make_image):
    labels, truth = write_peta(tmp_path / "peta", make_image, with_images=False)
    mat = scipy.io.loadmat(tmp_path / "peta" / "PETA.mat")
    assert (mat["peta"][0][0][3][2][0][0][0][1][:, 0] - 1).tolist() == truth[2]["val"]
    assert [c[0][0] for c in mat["peta"][0][0][1]][:2] == ["personalLess30", "personalLess45"]
    np.testing.assert_array_equal(mat["peta"][0][0][0][:, 4:], labels)


@pytest.mark.parametrize("attributes", [35, 105])
@pytest.mark.parametrize("partition", [0, 3])
def test_load_peta_labels_names_and_splits(tmp_path, make_image, attributes, partition):
    labels, truth = write_peta(tmp_path / "peta", make_image)
    data = pa100k.load("peta", tmp_path / "peta", partition=partition, attributes=attributes)
    assert data.schema.name == {35: "peta", 105: "peta105"}[attributes]
    assert data.names.tolist() == [f"{i:05d}.png" for i in range(1, N + 1)]
    np.testing.assert_array_equal(data.labels, labels[:, :attributes])
    for split in ("train", "val", "test"):
        assert data.splits[split].tolist() == truth[partition][split]
    assert data.splits["trainval"].tolist() == truth[partition]["train"] + truth[partition]["val"]
    assert data.images[4].name == "00005.png" and data.mask is None


def test_peta_schemas_agree_on_the_first_35_columns():
    assert get_schema("peta105").attributes[:35] == get_schema("peta").attributes
    assert get_schema("peta105").attributes[35] == "upperBodyBlack"
    assert get_schema("peta105").attributes[-1] == "upperBodyThickStripes"
    assert get_schema("peta105").num_attributes == 105


def test_partition_out_of_range_lists_valid(tmp_path, make_image):
    write_peta(tmp_path / "peta", make_image, with_images=False)
    with pytest.raises(ValueError, match=r"partition must be in 0..4 .*found 5"):
        pa100k.load("peta", tmp_path / "peta", partition=5, check_images=False)


def test_unsupported_attribute_count_lists_valid(tmp_path):
    with pytest.raises(ValueError, match=r"attributes must be one of \[35, 105\], found 61"):
        pa100k.load("peta", tmp_path, attributes=61)


def test_missing_struct_field_names_file_and_field(tmp_path, make_image):
    write_peta(tmp_path / "peta", make_image, with_images=False, drop_field="partion_attribute")
    with pytest.raises(ValueError, match=r"PETA.mat: 'peta': struct field 'partion_attribute' is missing"):
        pa100k.load("peta", tmp_path / "peta")


def test_label_5_names_column_and_attribute(tmp_path, make_image):
    labels = np.zeros((N, 105))
    labels[3, 16] = 5
    write_peta(tmp_path / "peta", make_image, with_images=False, labels=labels)
    with pytest.raises(ValueError, match=r"PETA.mat: 'peta'.data.*found 5 at row 3, column 16 \(personalMale\)"):
        pa100k.load("peta", tmp_path / "peta")


def test_missing_file_and_missing_image(tmp_path, make_image):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="PETA.mat"):
        pa100k.load("peta", tmp_path / "empty")
    write_peta(tmp_path / "peta", make_image)
    (tmp_path / "peta" / "images" / "00007.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 12 images .*00007.png"):
        pa100k.load("peta", tmp_path / "peta")
