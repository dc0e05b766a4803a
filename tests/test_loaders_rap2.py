"""RAP v2 loader (54 selected attributes, official partitions) and RAPzs (53, zero-shot split)."""

from __future__ import annotations

import json
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.io

import pa100k
from pa100k.schemas import get_schema

N = 12
NUM_ALL = 152


def _cell(strings, row=False):
    out = np.empty((1, len(strings)) if row else (len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        out.flat[i] = np.array([s])
    return out


def _names():
    return [f"CAM{1 + i % 4:02d}-2014-03-{10 + i}-20140310{i:06d}-frame{i}-line1.png" for i in range(N)]


def write_rap2(root, make_image, seed=0, with_images=True, data=None):
    """RAP_annotation.mat with fields name, data, attribute, selected_attribute, partition_attribute."""
    rng = np.random.default_rng(seed)
    selected = np.sort(rng.choice(NUM_ALL, size=54, replace=False)) + 1  # 1-based columns of the 54
    all_names = [f"extra-{j}" for j in range(NUM_ALL)]
    for name, col in zip(get_schema("rap2").attributes, selected):
        all_names[col - 1] = name
    if data is None:
        data = rng.integers(0, 2, size=(N, NUM_ALL)).astype(np.float64)
        data[rng.random((N, NUM_ALL)) < 0.1] = 2
    partitions = np.empty((1, 5), dtype=object)  # a 1x5 cell
    truth = []
    for k in range(5):
        perm = rng.permutation(N) + 1
        split = {"train": perm[:6], "val": perm[6:9], "test": perm[9:]}
        partitions[0, k] = {f"{s}_index": v.reshape(1, -1).astype(np.float64) for s, v in split.items()}
        truth.append({s: (v - 1).tolist() for s, v in split.items()})
    ann = {
        "name": _cell(_names()),
        "data": data,
        "attribute": _cell(all_names),
        "selected_attribute": selected.reshape(1, -1).astype(np.float64),
        "partition_attribute": partitions,
    }
    (root / "RAP_annotation").mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "RAP_annotation" / "RAP_annotation.mat", {"RAP_annotation": ann})
    if with_images:
        for i, name in enumerate(_names()):
            make_image(root / "RAP_dataset" / name, seed=i)
    return data, selected - 1, truth


def test_fixture_nesting_matches_the_toolkits(tmp_path, make_image):
    _, selected, truth = write_rap2(tmp_path / "rap2", make_image, with_images=False)
    ann = scipy.io.loadmat(tmp_path / "rap2" / "RAP_annotation" / "RAP_annotation.mat")["RAP_annotation"]
    assert (ann["partition_attribute"][0][0][0][2]["val_index"][0][0][0] - 1).tolist() == truth[2]["val"]
    assert (ann[0][0][4][0, 2][0][0][2][0, :] - 1).tolist() == truth[2]["test"]
    assert (ann[0][0][3][0, :] - 1).tolist() == selected.tolist()
    assert ann[0][0][2][selected[0]][0][0] == "Femal"
    assert ann[0][0][0][5][0][0] == _names()[5]


@pytest.mark.parametrize("partition", [0, 2])
def test_load_rap2_selected_attributes_mask_and_splits(tmp_path, make_image, partition):
    data, selected, truth = write_rap2(tmp_path / "rap2", make_image)
    out = pa100k.load("rap2", tmp_path / "rap2", partition=partition)
    assert out.schema.name == "rap2" and out.schema.num_attributes == 54
    assert out.names.tolist() == _names()
    raw = data[:, selected]
    np.testing.assert_array_equal(out.labels, np.where(raw == 2, 0, raw))
    np.testing.assert_array_equal(out.mask, raw != 2)
    for split in ("train", "val", "test"):
        assert out.splits[split].tolist() == truth[partition][split]


def test_zero_shot_drops_age46_60_and_reads_json_split(tmp_path, make_image):
    data, selected, _ = write_rap2(tmp_path / "rap2", make_image)
    split = {"train": [0, 1, 2, 3, 4], "val": [5, 6], "test": [7, 8, 9, 10, 11]}
    (tmp_path / "zs.json").write_text(json.dumps(split))
    out = pa100k.load("rap2", tmp_path / "rap2", zero_shot=True, split_file=tmp_path / "zs.json")
    assert out.schema.name == "rap2zs" and "Age46-60" not in out.attribute_names
    keep = [c for c, a in zip(selected, get_schema("rap2").attributes) if a != "Age46-60"]
    np.testing.assert_array_equal(out.labels, np.where(data[:, keep] == 2, 0, data[:, keep]))
    assert {k: v.tolist() for k, v in out.splits.items() if k != "trainval"} == split
    assert out.dataset == "rap2zs"


def test_zero_shot_reads_rethinking_pickle_safely(tmp_path, make_image, monkeypatch):
    write_rap2(tmp_path / "rap2", make_image, with_images=False)
    easydict = types.ModuleType("easydict")

    class EasyDict(dict):
        def __getattr__(self, k):
            return self[k]

    EasyDict.__module__, EasyDict.__qualname__ = "easydict", "EasyDict"
    easydict.EasyDict = EasyDict
    monkeypatch.setitem(sys.modules, "easydict", easydict)
    desc = EasyDict(description="rap2", partition=EasyDict(
        train=np.array([3, 4, 5, 6]), val=np.array([0, 1]), test=np.array([2, 7, 8, 9, 10, 11]),
        trainval=np.array([3, 4, 5, 6, 0, 1])))
    desc.label = np.zeros((N, 119))
    with open(tmp_path / "rap2" / "dataset_zs_run1.pkl", "wb") as fh:
        pickle.dump(desc, fh)
    out = pa100k.load("rap2", tmp_path / "rap2", partition=1, zero_shot=True, check_images=False)
    assert out.splits["train"].tolist() == [3, 4, 5, 6]
    assert out.splits["test"].tolist() == [2, 7, 8, 9, 10, 11]


def test_zero_shot_pickle_with_foreign_class_is_refused(tmp_path, make_image):
    write_rap2(tmp_path / "rap2", make_image, with_images=False)
    with open(tmp_path / "rap2" / "dataset_zs_run0.pkl", "wb") as fh:
        pickle.dump({"partition": types.SimpleNamespace(train=[1])}, fh)
    with pytest.raises(ValueError, match=r"dataset_zs_run0.pkl: not a Rethinking_of_PAR .*refusing to load types.SimpleNamespace"):
        pa100k.load("rap2", tmp_path / "rap2", zero_shot=True, check_images=False)


def test_zero_shot_without_split_file_explains_where_to_get_it(tmp_path, make_image):
    write_rap2(tmp_path / "rap2", make_image, with_images=False)
    with pytest.raises(FileNotFoundError, match=r"dataset_zs_run3.pkl not found; the RAPzs split is not in the official"):
        pa100k.load("rap2", tmp_path / "rap2", partition=3, zero_shot=True)


def test_split_file_with_out_of_range_index(tmp_path, make_image):
    write_rap2(tmp_path / "rap2", make_image, with_images=False)
    (tmp_path / "zs.json").write_text(json.dumps({"train": [0], "val": [1], "test": [12]}))
    with pytest.raises(ValueError, match=r"zs.json: split 'test' indices must lie in \[0, 12\)"):
        pa100k.load("rap2", tmp_path / "rap2", zero_shot=True, split_file=tmp_path / "zs.json")


def test_label_5_and_absent_image(tmp_path, make_image):
    data = np.zeros((N, NUM_ALL))
    data[4, :] = 5
    write_rap2(tmp_path / "bad", make_image, with_images=False, data=data)
    with pytest.raises(ValueError, match=r"'RAP_annotation'.data: labels must be 0, 1 or 2.*found 5 at row 4, column 0 \(Femal\)"):
        pa100k.load("rap2", tmp_path / "bad")
    write_rap2(tmp_path / "rap2", make_image)
    (tmp_path / "rap2" / "RAP_dataset" / _names()[11]).unlink()
    with pytest.raises(FileNotFoundError, match=_names()[11]):
        pa100k.load("rap2", tmp_path / "rap2")


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"rap2: data root .* does not exist"):
        pa100k.load("rap2", tmp_path / "missing")
