"""ReIDSet validation, summary, JSTL merging and the ReID dataset registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from pa100k.reid import DEFAULT_REID_DATASET, ReIDSet, atomic_directory, list_reid_datasets, load_reid, merge_train


def make(name: str, train_pids, query=((Path("q.jpg"), 5, 0),), gallery=((Path("g.jpg"), 5, 1),)) -> ReIDSet:
    train = [(Path(f"{name}_{k}.jpg"), pid, k % 2) for k, pid in enumerate(train_pids)]
    return ReIDSet(name=name, train=train, query=list(query), gallery=list(gallery))


def test_registry_has_the_four_datasets_and_synthetic_is_default():
    assert list_reid_datasets() == ["cuhk03", "market1501", "synthetic_reid", "viper"]
    assert DEFAULT_REID_DATASET == "synthetic_reid"


def test_load_reid_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match="valid names: cuhk03, market1501, synthetic_reid, viper"):
        load_reid("dukemtmc")


def test_load_reid_default_root_is_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PA100K_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "market1501")):
        load_reid("market1501")


def test_merge_train_offsets_each_dataset_into_one_label_space():
    a, b, c = make("a", [0, 1, 1, 2]), make("b", [1, 0]), make("c", [0, 0, 0])
    merged = merge_train([a, b, c])
    assert [pid for _, pid, _, _ in merged] == [0, 1, 1, 2, 4, 3, 5, 5, 5]
    assert [d for _, _, _, d in merged] == ["a"] * 4 + ["b"] * 2 + ["c"] * 3
    assert merged[4][0] == Path("b_0.jpg") and merged[4][2] == 0
    assert len({pid for _, pid, _, _ in merged}) == a.num_train_pids + b.num_train_pids + c.num_train_pids


def test_merge_train_rejects_duplicate_names():
    with pytest.raises(ValueError, match="distinct"):
        merge_train([make("a", [0]), make("a", [0])])


def test_reidset_requires_relabelled_train_ids():
    with pytest.raises(ValueError, match=r"train pids must be relabelled to 0\.\.1, found 2 ids ranging 3\.\.7"):
        make("x", [3, 7])


@pytest.mark.parametrize("item, error, message", [
    ((Path("a.jpg"), -1, 0), ValueError, "pid must be >= 0"), ((Path("a.jpg"), 1, -1), ValueError, "camid must be >= 0"),
    ((Path("a.jpg"), "1", 0), TypeError, "pid must be an integer"), ((3, 1, 0), TypeError, "image must be a path or bytes"),
    ((Path("a.jpg"), 1), ValueError, "must be an"), ((Path("a.jpg"), 1, 0.0), TypeError, "camid must be an integer"),
])
def test_reidset_rejects_bad_items(item, error, message):
    with pytest.raises(error, match=message):
        ReIDSet(name="x", train=[], query=[item], gallery=[])


def test_reidset_rejects_unknown_protocol():
    with pytest.raises(ValueError, match="protocol must be one of market1501, cuhk03_single_shot, viper"):
        ReIDSet(name="x", train=[], query=[], gallery=[], protocol="cmc")


def test_reidset_string_paths_become_paths_and_bytes_are_kept():
    rs = ReIDSet(name="x", train=[("a.jpg", 0, 0)], query=[(b"\xff\xd8", 1, 0)], gallery=[])
    assert rs.train[0][0] == Path("a.jpg") and rs.query[0][0] == b"\xff\xd8"


def test_reidset_pids_camids_and_unknown_subset():
    rs = make("a", [0, 1, 1])
    assert rs.pids("train").tolist() == [0, 1, 1] and rs.camids("train").tolist() == [0, 1, 0]
    assert rs.num_train_pids == 2 and rs.num_train_cams == 2
    with pytest.raises(KeyError, match="valid: train, query, gallery"):
        rs.subset("test")


def test_atomic_directory_renames_on_success_and_cleans_on_failure(tmp_path):
    with atomic_directory(tmp_path / "done") as tmp:
        (tmp / "f.txt").write_text("x")
    assert (tmp_path / "done" / "f.txt").read_text() == "x"
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "failed") as tmp:
        (tmp / "f.txt").write_text("x")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done"]
    with atomic_directory(tmp_path / "done", replace=True) as tmp:
        (tmp / "g.txt").write_text("y")
    assert [p.name for p in (tmp_path / "done").iterdir()] == ["g.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done"]
