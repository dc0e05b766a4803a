"""CUHK03 loader on a v7.3 ``cuhk-03.mat`` written with h5py and new-protocol configs written with scipy."""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from pa100k.reid import load_cuhk03, load_reid
from pa100k.reid.cuhk03 import check_mat_v73, read_classic_testsets

IDS_PER_PAIR = (3, 2, 2, 2, 2)  # 11 identities, global (1-based) ids 1..11
MAT_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."


def _image(pair: int, pid: int, cell: int, boxes: str) -> np.ndarray:
    """A distinct tiny HxWx3 image per (pair, person, cell, boxes)."""
    h, w = (6, 4) if boxes == "labeled" else (5, 3)
    return np.full((h, w, 3), (pair * 40 + pid * 10 + cell) % 256, dtype=np.uint8)


def person_cells(pair: int, pid: int, boxes: str) -> list[np.ndarray | None]:
    """10 cells: 2 images in view 1 (cells 0, 1), 2 in view 2 (cells 5, 6); detected lacks cell 6 of person 1 of
    every pair; person 3 of pair 1 has only view-1 images."""
    cells: list[np.ndarray | None] = [None] * 10
    for c in (0, 1, 5, 6):
        cells[c] = _image(pair, pid, c, boxes)
    if boxes == "detected" and pid == 1:
        cells[6] = None
    if pair == 1 and pid == 3:
        cells[5] = cells[6] = None
    return cells


def classic_testsets() -> list[np.ndarray]:
    """20 splits of 3 (pair, person) rows each, 1-based; split k's first row is (k % 5 + 1, 1)."""
    rows = [(pair, pid) for pair, n in enumerate(IDS_PER_PAIR, start=1) for pid in range(1, n + 1)]
    out = []
    for k in range(20):
        first = (k % 5 + 1, 1)
        others = [r for r in rows if r != first]
        pick = np.random.default_rng(k).choice(len(others), 2, replace=False)
        out.append(np.array([first] + [others[i] for i in pick], dtype=np.float64))
    return out


def write_cuhk03_mat(path: Path, testsets: list[np.ndarray] | None = None, bad_shape: bool = False) -> Path:
    """Write ``cuhk-03.mat`` as MATLAB v7.3 does: HDF5 with a 512-byte text header, cells as object references
    to arrays stored transposed, empty cells as ``MATLAB_empty`` uint64 pairs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    counter = itertools.count()
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")

        def put(arr: np.ndarray | None):
            name = f"r{next(counter)}"
            if arr is None:
                ds = refs.create_dataset(name, data=np.zeros(2, dtype=np.uint64))
                ds.attrs["MATLAB_empty"] = np.uint8(1)
            else:
                ds = refs.create_dataset(name, data=arr.T)  # MATLAB's column-major order
            return ds.ref

        for boxes in ("labeled", "detected"):
            pair_refs = []
            for pair, n in enumerate(IDS_PER_PAIR, start=1):
                cell = np.empty((n, 10), dtype=h5py.ref_dtype)
                for pid in range(1, n + 1):
                    for c, img in enumerate(person_cells(pair, pid, boxes)):
                        if bad_shape and img is not None:
                            img = img[:, :, :2]
                        cell[pid - 1, c] = put(img)
                pair_refs.append(put_ref(refs, f"cell_{boxes}_{pair}", cell))
            f.create_dataset(boxes, data=np.array([pair_refs], dtype=h5py.ref_dtype))  # MATLAB 5x1 cell
        test_refs = [put(t) for t in (testsets if testsets is not None else classic_testsets())]
        f.create_dataset("testsets", data=np.array([test_refs], dtype=h5py.ref_dtype))
    with open(path, "r+b") as fh:
        fh.write(MAT_HEADER.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")
    return path


def put_ref(group, name: str, cell: np.ndarray):
    return group.create_dataset(name, data=cell.T).ref


def all_images(boxes: str) -> list[tuple[int, int, int, int]]:
    """(pair, person, view, cell) of every non-empty cell, 1-based pair/person/cell."""
    out = []
    for pair, n in enumerate(IDS_PER_PAIR, start=1):
        for pid in range(1, n + 1):
            for c, img in enumerate(person_cells(pair, pid, boxes)):
                if img is not None:
                    out.append((pair, pid, 1 if c < 5 else 2, c + 1))
    return out


def global_id(pair: int, pid: int) -> int:
    return sum(IDS_PER_PAIR[: pair - 1]) + pid


def write_new_config(path: Path, boxes: str) -> dict:
    """A new-protocol config: identities 1..6 train, 7..11 test; per test identity its first image of each
    view is a query, the rest gallery."""
    images = all_images(boxes)
    filelist = [f"{pair}_{pid:03d}_{view}_{cell:02d}.png" for pair, pid, view, cell in images]
    labels = [global_id(pair, pid) for pair, pid, _, _ in images]
    train, query, gallery, seen = [], [], [], set()
    for k, (pair, pid, view, _) in enumerate(images, start=1):
        g = global_id(pair, pid)
        if g <= 6:
            train.append(k)
        elif (g, view) not in seen:
            seen.add((g, view))
            query.append(k)
        else:
            gallery.append(k)
    cell = np.empty((len(filelist), 1), dtype=object)
    for k, name in enumerate(filelist):
        cell[k, 0] = name
    scipy.io.savemat(path, {
        "filelist": cell, "labels": np.array(labels, dtype=np.float64)[:, None],
        "train_idx": np.array(train, dtype=np.float64)[:, None], "query_idx": np.array(query, dtype=np.float64)[:, None],
        "gallery_idx": np.array(gallery, dtype=np.float64)[:, None],
    })
    return {"train": train, "query": query, "gallery": gallery, "labels": labels, "filelist": filelist}


@pytest.fixture
def cuhk_root(tmp_path) -> Path:
    write_cuhk03_mat(tmp_path / "cuhk03_release" / "cuhk-03.mat")
    return tmp_path


def test_read_classic_testsets_returns_20_splits_of_pairs(cuhk_root):
    testsets = read_classic_testsets(cuhk_root / "cuhk03_release" / "cuhk-03.mat")
    assert len(testsets) == 20
    assert testsets[3].shape == (3, 2) and testsets[3][0].tolist() == [4, 1]


@pytest.mark.parametrize("boxes", ["labeled", "detected"])
def test_classic_split_sizes_and_ids(cuhk_root, boxes):
    rs = load_cuhk03(cuhk_root, split=2, boxes=boxes)
    test_rows = [tuple(r) for r in classic_testsets()[2].astype(int).tolist()]
    test_ids = {global_id(*r) for r in test_rows}
    images = all_images(boxes)
    n_test_images = sum(global_id(p, q) in test_ids for p, q, _, _ in images)
    assert len(rs.query) == len(rs.gallery) == n_test_images
    assert rs.query == rs.gallery  # torchreid's convention: all test images in both
    assert set(rs.pids("query").tolist()) == test_ids
    assert len(rs.train) == len(images) - n_test_images
    assert rs.num_train_pids == 11 - 3
    assert sorted(set(rs.pids("train").tolist())) == list(range(8))
    assert rs.protocol == "cuhk03_single_shot" and rs.info["boxes"] == boxes


def test_classic_camid_is_view_minus_one_and_images_match_the_mat(cuhk_root):
    rs = load_cuhk03(cuhk_root, split=0, boxes="labeled")
    for path, pid, camid in rs.query:
        pair, person, view, cell = (int(x) for x in path.stem.split("_"))
        assert pid == global_id(pair, person)
        assert camid == view - 1
        np.testing.assert_array_equal(np.asarray(rs.open_image("query", rs.query.index((path, pid, camid)))),
                                      _image(pair, person, cell - 1, "labeled"))


def test_classic_detected_boxes_skip_empty_cells(cuhk_root):
    labeled = load_cuhk03(cuhk_root, split=0, boxes="labeled")
    detected = load_cuhk03(cuhk_root, split=0, boxes="detected")
    n_lab = len(labeled.train) + len(labeled.query)
    n_det = len(detected.train) + len(detected.query)
    assert n_lab == 11 * 4 - 2
    assert n_det == n_lab - 5  # detected boxes lack one cell of person 1 in each of the 5 pairs
    assert {p.parent.name for p, _, _ in detected.train} == {"detected"}


def test_all_classic_splits_load_and_differ(cuhk_root):
    tests = [frozenset(load_cuhk03(cuhk_root, split=k).pids("query").tolist()) for k in range(20)]
    assert len(set(tests)) > 10
    assert all(len(t) == 3 for t in tests)


def test_extraction_is_cached_beside_the_mat(cuhk_root):
    load_cuhk03(cuhk_root, split=0)
    cache = cuhk_root / "cuhk03_release" / "pa100k-cache" / "labeled"
    assert (cache / "index.json").is_file()
    assert len(list(cache.glob("*.png"))) == len(all_images("labeled"))
    (cuhk_root / "cuhk03_release" / "cuhk-03.mat").rename(cuhk_root / "cuhk03_release" / "moved.mat")
    with pytest.raises(FileNotFoundError, match="cuhk-03.mat not found"):
        load_cuhk03(cuhk_root, split=0)


def test_extraction_into_cache_dir_option(cuhk_root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    rs = load_reid("cuhk03", cuhk_root, split=1, cache_dir=cache)
    assert all(str(p).startswith(str(cache)) for p, _, _ in rs.train)
    assert not (cuhk_root / "cuhk03_release" / "pa100k-cache").exists()


def test_failed_extraction_leaves_no_cache(tmp_path):
    write_cuhk03_mat(tmp_path / "cuhk-03.mat", bad_shape=True)
    with pytest.raises(ValueError, match=r"expected HxWx3"):
        load_cuhk03(tmp_path)
    assert list((tmp_path / "pa100k-cache").iterdir()) == []


@pytest.mark.parametrize("boxes", ["labeled", "detected"])
def test_new_protocol_split_sizes_and_ids(cuhk_root, boxes):
    config = write_new_config(cuhk_root / f"cuhk03_new_protocol_config_{boxes}.mat", boxes)
    rs = load_cuhk03(cuhk_root, boxes=boxes, protocol="new")
    assert (len(rs.train), len(rs.query), len(rs.gallery)) == (
        len(config["train"]), len(config["query"]), len(config["gallery"]))
    assert rs.num_train_pids == 6 and sorted(set(rs.pids("train").tolist())) == list(range(6))
    assert set(rs.pids("query").tolist()) == set(range(7, 12))
    for path, pid, camid in rs.gallery:
        assert camid == int(path.name.split("_")[2]) - 1
        assert pid == config["labels"][config["filelist"].index(path.name)]
    assert rs.protocol == "market1501"


def test_new_protocol_config_beside_the_mat_is_found(cuhk_root):
    write_new_config(cuhk_root / "cuhk03_release" / "cuhk03_new_protocol_config_labeled.mat", "labeled")
    assert len(load_cuhk03(cuhk_root, protocol="new").train) > 0


def test_new_protocol_missing_config_names_the_file(cuhk_root):
    with pytest.raises(FileNotFoundError, match="cuhk03_new_protocol_config_detected.mat"):
        load_cuhk03(cuhk_root, boxes="detected", protocol="new")


def test_new_protocol_unknown_file_in_filelist(cuhk_root):
    config = cuhk_root / "cuhk03_new_protocol_config_labeled.mat"
    write_new_config(config, "labeled")
    mat = scipy.io.loadmat(config)
    mat["filelist"][0, 0] = np.array(["9_999_1_01.png"])
    scipy.io.savemat(config, {k: v for k, v in mat.items() if not k.startswith("__")})
    with pytest.raises(ValueError, match=r"9_999_1_01\.png"):
        load_cuhk03(cuhk_root, protocol="new")


def test_v5_mat_file_is_rejected_clearly(tmp_path):
    scipy.io.savemat(tmp_path / "cuhk-03.mat", {"labeled": np.zeros((5, 1)), "testsets": np.zeros((20, 1))})
    with pytest.raises(ValueError, match=r"MATLAB v5 MAT-file.*v7\.3 \(HDF5\)"):
        load_cuhk03(tmp_path)


def test_non_mat_file_is_rejected(tmp_path):
    (tmp_path / "cuhk-03.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match="not a MATLAB v7.3"):
        check_mat_v73(tmp_path / "cuhk-03.mat")


@pytest.mark.parametrize("options, message", [
    ({"split": 20}, "split must be one of"), ({"boxes": "manual"}, "boxes must be one of"),
    ({"protocol": "jstl"}, "protocol must be one of"), ({"protocol": "new", "split": 1}, "split must be one of"),
])
def test_bad_options_are_rejected(cuhk_root, options, message):
    with pytest.raises(ValueError, match=message):
        load_cuhk03(cuhk_root, **options)


def test_mat_without_testsets_names_the_key(tmp_path):
    path = write_cuhk03_mat(tmp_path / "cuhk-03.mat")
    with h5py.File(path, "a") as f:
        del f["testsets"]
    with pytest.raises(ValueError, match="key 'testsets' missing"):
        load_cuhk03(tmp_path)
