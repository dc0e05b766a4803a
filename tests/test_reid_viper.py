"""VIPeR loader on a fixture in the release layout (BMP files by PIL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pa100k.reid import load_reid, load_viper, viper_splits

IDENTITIES = (0, 1, 3, 7, 12, 15, 40, 41, 99, 873)  # non-contiguous numbers, as in the release


def write_viper(root: Path, identities=IDENTITIES) -> Path:
    """One BMP per identity in ``cam_a/`` (angle 0/45) and ``cam_b/`` (angle 90/180); colour encodes the identity."""
    for cam, angles in (("cam_a", (0, 45)), ("cam_b", (90, 180))):
        (root / cam).mkdir(parents=True, exist_ok=True)
        for k, ident in enumerate(identities):
            Image.new("RGB", (4, 8), (k * 20, 0 if cam == "cam_a" else 255, 0)).save(
                root / cam / f"{ident:03d}_{angles[k % 2]}.bmp")
    return root


def test_viper_pairs_by_position_and_camera(tmp_path):
    rs = load_viper(write_viper(tmp_path), split=0, direction="a2b")
    assert len(rs.train) == 10 and len(rs.query) == 5 and len(rs.gallery) == 5
    assert rs.num_train_pids == 5 and sorted(set(rs.pids("train").tolist())) == list(range(5))
    assert set(rs.camids("query").tolist()) == {0} and set(rs.camids("gallery").tolist()) == {1}
    for path, pid, camid in rs.query:
        assert path.parent.name == "cam_a"
        assert int(path.name.split("_")[0]) == IDENTITIES[pid - 1]  # raw pid = position + 1
    assert sorted(rs.pids("query").tolist()) == sorted(rs.pids("gallery").tolist())
    for path, label, camid in rs.train:  # both cameras of one identity share its label
        assert path.parent.name == ("cam_a", "cam_b")[camid]
    by_label: dict[int, set] = {}
    for path, label, _ in rs.train:
        by_label.setdefault(label, set()).add(path.name.split("_")[0])
    assert all(len(v) == 1 for v in by_label.values())


def test_viper_b2a_swaps_query_and_gallery(tmp_path):
    root = write_viper(tmp_path)
    a2b, b2a = load_viper(root, split=3, direction="a2b"), load_viper(root, split=3, direction="b2a")
    assert a2b.query == b2a.gallery and a2b.gallery == b2a.query
    assert a2b.train == b2a.train
    assert set(b2a.camids("query").tolist()) == {1}


def test_viper_splits_are_seeded_and_deterministic(tmp_path):
    root = write_viper(tmp_path)
    first = [load_reid("viper", root, split=k).pids("query").tolist() for k in range(10)]
    again = [load_reid("viper", root, split=k).pids("query").tolist() for k in range(10)]
    assert first == again
    assert len({tuple(q) for q in first}) > 5  # the 10 splits differ
    other_seed = load_viper(root, split=0, seed=1).pids("query").tolist()
    assert other_seed != first[0]


def test_viper_splits_halve_632_identities_without_overlap():
    splits = viper_splits(632)
    assert len(splits) == 10
    for train, test in splits:
        assert len(train) == len(test) == 316
        assert not set(train.tolist()) & set(test.tolist())
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(632))
    # the fixed seed is part of the protocol: published numbers depend on these exact splits
    assert splits[0][0][:8].tolist() == [0, 2, 5, 12, 15, 17, 18, 19]
    assert splits[9][1][:8].tolist() == [1, 2, 4, 5, 7, 8, 9, 13]
    assert not np.array_equal(splits[0][0], splits[1][0])


def test_viper_accepts_nested_viper_folder(tmp_path):
    write_viper(tmp_path / "VIPeR")
    assert load_viper(tmp_path).root == tmp_path / "VIPeR"


def test_viper_unequal_camera_counts_is_an_error(tmp_path):
    root = write_viper(tmp_path)
    (root / "cam_b" / "873_180.bmp").unlink()
    with pytest.raises(ValueError, match=r"cam_a/ has 10 images but cam_b/ has 9"):
        load_viper(root)


def test_viper_mismatched_identity_numbers_is_an_error(tmp_path):
    root = write_viper(tmp_path)
    (root / "cam_b" / "873_180.bmp").rename(root / "cam_b" / "874_180.bmp")
    (root / "cam_b" / "000_90.bmp").rename(root / "cam_b" / "875_90.bmp")
    with pytest.raises(ValueError, match=r"start with different identity numbers"):
        load_viper(root)


def test_viper_missing_camera_folder(tmp_path):
    (tmp_path / "cam_a").mkdir()
    with pytest.raises(FileNotFoundError, match="cam_a/ and cam_b/"):
        load_viper(tmp_path)


def test_viper_empty_folders(tmp_path):
    (tmp_path / "cam_a").mkdir()
    (tmp_path / "cam_b").mkdir()
    with pytest.raises(ValueError, match="hold no images"):
        load_viper(tmp_path)


@pytest.mark.parametrize("options, message", [({"split": 10}, "split"), ({"split": -1}, "split"),
                                              ({"direction": "ab"}, "direction"), ({"split": True}, "split")])
def test_viper_bad_options(tmp_path, options, message):
    with pytest.raises(ValueError, match=f"option {message} must be one of"):
        load_viper(write_viper(tmp_path), **options)


def test_load_reid_rejects_unknown_option(tmp_path):
    with pytest.raises(ValueError, match=r"unknown option\(s\) boxes; valid options: split, direction, seed"):
        load_reid("viper", write_viper(tmp_path), boxes="labeled")
