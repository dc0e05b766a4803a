"""PA-100K loader on small files written in the official layout (annotation.mat v5 and v7.3, data/*.jpg)."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest
import scipy.io

import pa100k
from pa100k.attribute_set import ImageDecodeError
from pa100k.schemas import get_schema

SIZES = {"train": 6, "val": 2, "test": 3}


def _cell(strings):
    """A MATLAB cell column as scipy writes it: (N, 1) object array of 1-element string arrays."""
    out = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        out[i, 0] = np.array([s])
    return out


def write_pa100k(root, make_image, seed=0, with_images=True, drop=(), override=None):
    """The official layout: annotation.mat (keys as in the release) and data/NNNNNN.jpg."""
    rng = np.random.default_rng(seed)
    attrs = get_schema("pa100k").attributes
    start, content, truth = 1, {}, {}
    for split, n in SIZES.items():
        names = [f"{i:06d}.jpg" for i in range(start, start + n)]
        start += n
        labels = rng.integers(0, 2, size=(n, len(attrs))).astype(np.uint8)
        content[f"{split}_images_name"] = _cell(names)
        content[f"{split}_label"] = labels
        truth[split] = (names, labels)
    content["attributes"] = _cell(attrs)
    content.update(override or {})
    for key in drop:
        del content[key]
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "annotation.mat", content)
    if with_images:
        for split in SIZES:
            for k, name in enumerate(truth[split][0]):
                make_image(root / "data" / name, seed=k)
    return truth


def test_fixture_nesting_matches_the_release(tmp_path, make_image):
    truth = write_pa100k(tmp_path / "pa", make_image, with_images=False)
    mat = scipy.io.loadmat(tmp_path / "pa" / "annotation.mat")
    assert mat["train_images_name"][1][0][0] == truth["train"][0][1]  # read as x[i][0][0]
    assert mat["attributes"][25][0][0] == "boots"
    assert mat["val_label"].shape == (2, 26)


def test_load_pa100k_labels_names_and_splits_value_by_value(tmp_path, make_image):
    root = tmp_path / "pa"
    truth = write_pa100k(root, make_image)
    data = pa100k.load("pa100k", root)
    assert data.schema.name == "pa100k" and data.dataset == "pa100k"
    assert data.names.tolist() == truth["train"][0] + truth["val"][0] + truth["test"][0]
    np.testing.assert_array_equal(data.labels, np.concatenate([truth[s][1] for s in SIZES]))
    assert data.splits["train"].tolist() == [0, 1, 2, 3, 4, 5]
    assert data.splits["val"].tolist() == [6, 7]
    assert data.splits["test"].tolist() == [8, 9, 10]
    assert data.splits["trainval"].tolist() == list(range(8))
    assert data.mask is None and data.meta == {}
    assert data.images[8] == root / "data" / "000009.jpg"
    assert data.open_image(8).size == (12, 24)


def test_load_pa100k_root_defaults_to_data_home(pa100k_home, make_image):
    write_pa100k(pa100k_home / "pa100k", make_image)
    assert len(pa100k.load("pa100k")) == 11


def test_load_pa100k_reads_tracklets_sidecar_into_meta(tmp_path, make_image):
    root = tmp_path / "pa"
    truth = write_pa100k(root, make_image)
    names = truth["train"][0] + truth["val"][0] + truth["test"][0]
    rows = ["image,scene,camera,tracklet,identity"]
    for i, name in reversed(list(enumerate(names))):  # row order must not matter
        rows.append(f"{name},{i % 3},{i % 2},{i // 2},{100 + i // 2}")
    (root / "tracklets.csv").write_text("\n".join(rows) + "\n")
    data = pa100k.load("pa100k", root)
    assert data.meta["scene"].tolist() == [i % 3 for i in range(11)]
    assert data.meta["camera"].tolist() == [i % 2 for i in range(11)]
    assert data.meta["tracklet"].tolist() == [i // 2 for i in range(11)]
    assert data.meta["identity"].tolist() == [100 + i // 2 for i in range(11)]


def test_tracklets_sidecar_missing_a_row_names_the_image(tmp_path, make_image):
    root = tmp_path / "pa"
    write_pa100k(root, make_image)
    (root / "tracklets.csv").write_text("image,scene,camera,tracklet,identity\n000001.jpg,0,0,0,0\n")
    with pytest.raises(ValueError, match=r"tracklets.csv.*10 images.*000002.jpg"):
        pa100k.load("pa100k", root)


def test_tracklets_sidecar_missing_column_is_named(tmp_path, make_image):
    root = tmp_path / "pa"
    write_pa100k(root, make_image)
    (root / "tracklets.csv").write_text("image,scene,camera,identity\n")
    with pytest.raises(ValueError, match=r"tracklets.csv: missing columns \['tracklet'\]"):
        pa100k.load("pa100k", root)


def test_missing_root_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"pa100k: data root .*nowhere does not exist"):
        pa100k.load("pa100k", tmp_path / "nowhere")


def test_missing_annotation_names_the_file(tmp_path):
    (tmp_path / "pa").mkdir()
    with pytest.raises(FileNotFoundError, match=r"annotation file not found: expected .*annotation.mat"):
        pa100k.load("pa100k", tmp_path / "pa")


def test_missing_key_names_file_and_key(tmp_path, make_image):
    write_pa100k(tmp_path / "pa", make_image, with_images=False, drop=["val_label"])
    with pytest.raises(ValueError, match=r"annotation.mat: key 'val_label' is missing; keys present: .*attributes"):
        pa100k.load("pa100k", tmp_path / "pa")


def test_label_outside_012_names_file_key_row_and_attribute(tmp_path, make_image):
    labels = np.zeros((3, 26), dtype=np.uint8)
    labels[2, 7] = 5
    write_pa100k(tmp_path / "pa", make_image, with_images=False, override={"test_label": labels})
    with pytest.raises(ValueError, match=r"'test_label': labels must be 0, 1 or 2 .*found 5 at row 2, column 7 \(Hat\)"):
        pa100k.load("pa100k", tmp_path / "pa")


def test_label_matrix_of_wrong_shape_is_named(tmp_path, make_image):
    write_pa100k(tmp_path / "pa", make_image, with_images=False, override={"val_label": np.zeros((2, 25))})
    with pytest.raises(ValueError, match=r"'val_label': expected shape \(2, 26\), found \(2, 25\)"):
        pa100k.load("pa100k", tmp_path / "pa")


def test_uncertain_label_2_becomes_unknown(tmp_path, make_image):
    labels = np.ones((2, 26), dtype=np.uint8)
    labels[1, 3] = 2
    write_pa100k(tmp_path / "pa", make_image, override={"val_label": labels})
    data = pa100k.load("pa100k", tmp_path / "pa")
    assert data.labels[7, 3] == 0 and not data.mask[7, 3]
    assert data.mask.sum() == data.mask.size - 1


def test_listed_image_absent_is_named(tmp_path, make_image):
    root = tmp_path / "pa"
    write_pa100k(root, make_image)
    (root / "data" / "000004.jpg").unlink()
    (root / "data" / "000010.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"2 of 11 images listed in .*annotation.mat are missing .*000004.jpg, 000010.jpg"):
        pa100k.load("pa100k", root)
    assert len(pa100k.load("pa100k", root, check_images=False)) == 11


def test_truncated_jpeg_raises_naming_the_image(tmp_path, make_image):
    root = tmp_path / "pa"
    write_pa100k(root, make_image)
    path = root / "data" / "000002.jpg"
    make_image(path, size=(64, 128))
    path.write_bytes(path.read_bytes()[:200])
    data = pa100k.load("pa100k", root)
    with pytest.raises(ImageDecodeError, match="000002.jpg"):
        data.open_image(1)


def test_attribute_names_that_differ_are_reported(tmp_path, make_image, caplog):
    names = list(get_schema("pa100k").attributes)
    names[0] = "Gender"
    write_pa100k(tmp_path / "pa", make_image, override={"attributes": _cell(names)})
    with caplog.at_level(logging.WARNING):
        data = pa100k.load("pa100k", tmp_path / "pa")
    assert "column 0: file 'Gender', schema 'Female'" in caplog.text
    assert data.attribute_names[0] == "Female"


def test_duplicate_image_names_across_splits_raise(tmp_path, make_image):
    write_pa100k(tmp_path / "pa", make_image, with_images=False,
                 override={"test_images_name": _cell(["000001.jpg", "000010.jpg", "000011.jpg"])})
    with pytest.raises(ValueError, match="repeated: 000001.jpg"):
        pa100k.load("pa100k", tmp_path / "pa")


def _write_v73(path, content):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte header, cells as object references."""
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        counter = 0
        for key, value in content.items():
            if isinstance(value, list):  # cell column of strings
                cell = np.empty((1, len(value)), dtype=h5py.ref_dtype)  # MATLAB (N, 1) is stored as (1, N)
                for i, s in enumerate(value):
                    d = refs.create_dataset(f"r{counter}", data=np.array([[ord(c)] for c in s], dtype=np.uint16))
                    d.attrs["MATLAB_class"] = np.bytes_("char")
                    counter += 1
                    cell[0, i] = d.ref
                ds = f.create_dataset(key, data=cell, dtype=h5py.ref_dtype)
                ds.attrs["MATLAB_class"] = np.bytes_("cell")
            else:
                ds = f.create_dataset(key, data=np.asarray(value, dtype=np.float64).T)
                ds.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .")


def test_load_pa100k_from_matlab_v73_file(tmp_path, make_image):
    root = tmp_path / "pa"
    truth = write_pa100k(root, make_image)
    content = {}
    for split in SIZES:
        content[f"{split}_images_name"] = truth[split][0]
        content[f"{split}_label"] = truth[split][1]
    content["attributes"] = list(get_schema("pa100k").attributes)
    _write_v73(root / "annotation.mat", content)
    assert h5py.is_hdf5(root / "annotation.mat")
    data = pa100k.load("pa100k", root)
    assert data.names.tolist() == truth["train"][0] + truth["val"][0] + truth["test"][0]
    np.testing.assert_array_equal(data.labels, np.concatenate([truth[s][1] for s in SIZES]))
    assert data.splits["test"].tolist() == [8, 9, 10]


def test_corrupt_mat_file_is_named(tmp_path):
    root = tmp_path / "pa"
    root.mkdir()
    (root / "annotation.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ValueError, match=r"annotation.mat: not a readable MATLAB file"):
        pa100k.load("pa100k", root)
