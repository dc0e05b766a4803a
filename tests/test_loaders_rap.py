"""RAP v1 loader on a small RAP_annotation.mat with the release's struct (fields in the release's order)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

import pa100k
from pa100k.schemas import get_schema

N = 10


def _cell(strings):
    out = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        out[i, 0] = np.array([s])
    return out


def _names():
    return [f"CAM{1 + i % 3:02d}_2014-02-15_20140215161032-20140215162620_tarid{i}_frame{100 + i}_line1.png"
            for i in range(N)]


def write_rap(root, make_image, seed=0, with_images=True, label=None, drop_field=None):
    """RAP_annotation/RAP_annotation.mat (struct RAP_annotation) and RAP_dataset/*.png."""
    rng = np.random.default_rng(seed)
    if label is None:
        label = rng.integers(0, 2, size=(N, 92)).astype(np.float64)
        label[rng.random((N, 92)) < 0.1] = 2  # uncertain
    partitions = np.empty((5, 1), dtype=object)
    truth = []
    for k in range(5):
        perm = rng.permutation(N) + 1
        partitions[k, 0] = {"train": perm[:7].reshape(1, -1).astype(np.float64),  # (1, n) rows, read [0, :]
                            "test": perm[7:].reshape(1, -1).astype(np.float64)}
        truth.append({"trainval": (perm[:7] - 1).tolist(), "test": (perm[7:] - 1).tolist()})
    names = _names()
    ann = {  # field order of the release: [0] partion, [1] label, [3] attribute_eng, [5] imagesname, [6] attribute_exp
        "partion": partitions,
        "label": label,
        "attribute_chinese": _cell([f"属性{i}" for i in range(92)]),
        "attribute_eng": _cell(get_schema("rap92").attributes),
        "position": rng.integers(0, 100, size=(N, 16)).astype(np.int32),
        "imagesname": _cell(names),
        "attribute_exp": _cell(get_schema("rap").attributes),
    }
    if drop_field:
        del ann[drop_field]
    (root / "RAP_annotation").mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "RAP_annotation" / "RAP_annotation.mat", {"RAP_annotation": ann})
    if with_images:
        for i, name in enumerate(names):
            make_image(root / "RAP_dataset" / name, seed=i)
    return label, truth


def test_fixture_nesting_matches_the_toolkits(tmp_path, make_image):
    label, truth = write_rap(tmp_path / "rap", make_image, with_images=False)
    mat = scipy.io.loadmat(tmp_path / "rap" / "RAP_annotation" / "RAP_annotation.mat")
    ann = mat["RAP_annotation"]
    assert (ann[0][0][0][1][0][0][0][0][0, :] - 1).tolist() == truth[1]["trainval"]
    assert (ann[0][0][0][1][0][0][0][1][0, :] - 1).tolist() == truth[1]["test"]
    assert ann[0][0][5][3][0][0] == _names()[3]
    assert ann[0][0][3][91][0][0] == "shoes-Mixture"
    np.testing.assert_array_equal(ann[0][0][1], label)


@pytest.mark.parametrize("attributes", [51, 92])
@pytest.mark.parametrize("partition", [0, 4])
def test_load_rap_labels_mask_and_splits_value_by_value(tmp_path, make_image, attributes, partition):
    label, truth = write_rap(tmp_path / "rap", make_image)
    data = pa100k.load("rap", tmp_path / "rap", partition=partition, attributes=attributes)
    assert data.schema.name == {51: "rap", 92: "rap92"}[attributes]
    assert data.names.tolist() == _names()
    raw = label[:, :attributes]
    np.testing.assert_array_equal(data.mask, raw != 2)  # label 2 -> unknown
    np.testing.assert_array_equal(data.labels, np.where(raw == 2, 0, raw))  # ... and stored as 0
    assert data.splits["trainval"].tolist() == truth[partition]["trainval"]
    assert data.splits["test"].tolist() == truth[partition]["test"]
    assert set(data.splits) == {"trainval", "test"}


def test_rap_51_is_the_first_51_of_92():
    assert get_schema("rap92").attributes[:51] == get_schema("rap").attributes
    assert get_schema("rap").attributes[-1] == "action-CarrybyHand"
    assert get_schema("rap").group_of("Age17-30") == ("AgeLess16", "Age17-30", "Age31-45")


def test_annotation_directly_in_root_is_found(tmp_path, make_image):
    write_rap(tmp_path / "rap", make_image)
    (tmp_path / "rap" / "RAP_annotation" / "RAP_annotation.mat").rename(tmp_path / "rap" / "RAP_annotation.mat")
    assert len(pa100k.load("rap", tmp_path / "rap")) == N


def test_missing_annotation_names_both_places(tmp_path):
    (tmp_path / "rap").mkdir()
    with pytest.raises(FileNotFoundError, match=r"RAP_annotation/RAP_annotation.mat or .*RAP_annotation.mat"):
        pa100k.load("rap", tmp_path / "rap")


def test_missing_field_names_file_and_field(tmp_path, make_image):
    write_rap(tmp_path / "rap", make_image, with_images=False, drop_field="imagesname")
    with pytest.raises(ValueError, match=r"RAP_annotation.mat: 'RAP_annotation': struct field 'imagesname' is missing"):
        pa100k.load("rap", tmp_path / "rap")


def test_label_5_is_rejected_with_position(tmp_path, make_image):
    label = np.zeros((N, 92))
    label[9, 0] = 5
    write_rap(tmp_path / "rap", make_image, with_images=False, label=label)
    with pytest.raises(ValueError, match=r"'RAP_annotation'.label: .*found 5 at row 9, column 0 \(Female\)"):
        pa100k.load("rap", tmp_path / "rap")


def test_label_matrix_with_wrong_column_count(tmp_path, make_image):
    write_rap(tmp_path / "rap", make_image, with_images=False, label=np.zeros((N, 51)))
    with pytest.raises(ValueError, match=r"'RAP_annotation'.label: expected shape \(10, 92\), found \(10, 51\)"):
        pa100k.load("rap", tmp_path / "rap")


def test_absent_image_is_named(tmp_path, make_image):
    write_rap(tmp_path / "rap", make_image)
    (tmp_path / "rap" / "RAP_dataset" / _names()[2]).unlink()
    with pytest.raises(FileNotFoundError, match=_names()[2]):
        pa100k.load("rap", tmp_path / "rap")


def test_bad_options_are_rejected(tmp_path, make_image):
    write_rap(tmp_path / "rap", make_image, with_images=False)
    with pytest.raises(ValueError, match=r"attributes must be one of \[51, 92\]"):
        pa100k.load("rap", tmp_path / "rap", attributes=54)
    with pytest.raises(ValueError, match=r"partition must be in 0..4"):
        pa100k.load("rap", tmp_path / "rap", partition=-1, check_images=False)
    with pytest.raises(ValueError, match=r"partition must be in 0..4 .*found '1'"):
        pa100k.load("rap", tmp_path / "rap", partition="1", check_images=False)
