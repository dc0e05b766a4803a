"""Market-1501 loader on a fixture written in the release layout (JPEG files by PIL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pa100k.reid import load_market1501, load_reid, parse_market_name

# (folder, file name) of the fixture: 3 train ids (one with pid 0, to be dropped), 2 query ids,
# gallery with the 2 test ids, 2 distractors (pid 0) and 2 junk (pid -1), plus a junk query.
FILES = {
    "bounding_box_train": [
        "0002_c1s1_000451_03.jpg", "0002_c2s1_000551_01.jpg", "0002_c2s1_000601_01.jpg",
        "0007_c3s3_010521_02.jpg", "0007_c6s4_002202_01.jpg",
        "0010_c1s1_000151_01.jpg", "0010_c5s2_012345_04.jpg",
        "0000_c1s1_000001_01.jpg",
    ],
    "query": ["0001_c1s1_001051_00.jpg", "0003_c4s1_002001_00.jpg", "-1_c2s1_000001_00.jpg"],
    "bounding_box_test": [
        "0001_c2s1_000301_02.jpg", "0001_c1s1_001101_01.jpg", "0003_c5s1_000401_01.jpg",
        "0000_c1s1_000010_01.jpg", "0000_c6s1_000020_02.jpg",
        "-1_c1s1_000030_01.jpg", "-1_c3s1_000040_01.jpg",
    ],
}


def write_market(root: Path, files: dict[str, list[str]] = FILES) -> Path:
    """Write tiny JPEGs named as in ``files`` under ``root``; return ``root``."""
    for folder, names in files.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for k, name in enumerate(names):
            Image.new("RGB", (8, 16), (10 * k, 50, 90)).save(root / folder / name, format="JPEG")
    return root


def test_load_market1501_counts_and_relabelled_train(tmp_path):
    rs = load_market1501(write_market(tmp_path))
    assert len(rs.train) == 7  # the pid-0 image is dropped from training
    assert rs.num_train_pids == 3
    assert sorted(set(rs.pids("train").tolist())) == [0, 1, 2]
    labels = {path.name: pid for path, pid, _ in rs.train}
    assert labels["0002_c1s1_000451_03.jpg"] == 0 and labels["0007_c3s3_010521_02.jpg"] == 1
    assert labels["0010_c5s2_012345_04.jpg"] == 2
    assert rs.protocol == "market1501" and rs.name == "market1501"


def test_load_market1501_parses_pid_and_zero_based_camid(tmp_path):
    rs = load_market1501(write_market(tmp_path))
    by_name = {path.name: (pid, camid) for path, pid, camid in rs.query + rs.gallery}
    assert by_name["0003_c4s1_002001_00.jpg"] == (3, 3)
    assert by_name["0001_c2s1_000301_02.jpg"] == (1, 1)
    assert by_name["0000_c6s1_000020_02.jpg"] == (0, 5)
    assert sorted(rs.camids("train").tolist()) == [0, 0, 1, 1, 2, 4, 5]


def test_load_market1501_drops_junk_keeps_distractors_in_gallery(tmp_path):
    rs = load_market1501(write_market(tmp_path))
    assert len(rs.query) == 2 and -1 not in rs.pids("query")
    assert len(rs.gallery) == 5
    assert (rs.pids("gallery") == 0).sum() == 2
    assert -1 not in rs.pids("gallery")
    assert rs.info["junk_dropped"] == 3
    summary = rs.summary()
    assert "gallery distractors (pid 0, counted as one id above): 2 images" in summary
    assert "| " in summary and "train" in summary


def test_summary_table_counts_ids_images_cameras(tmp_path):
    rs = load_market1501(write_market(tmp_path))
    rows = {line.split("|")[0].strip(): [int(x) for x in line.split("|")[1:]]
            for line in rs.summary().splitlines() if line.split("|")[0].strip() in ("train", "query", "gallery")}
    assert rows == {"train": [3, 7, 5], "query": [2, 2, 2], "gallery": [3, 5, 4]}


def test_load_market1501_accepts_nested_release_folder(tmp_path):
    write_market(tmp_path / "Market-1501-v15.09.15")
    rs = load_reid("market1501", tmp_path)
    assert rs.root == tmp_path / "Market-1501-v15.09.15"
    assert len(rs.train) == 7


def test_load_market1501_ignores_non_image_files(tmp_path):
    write_market(tmp_path)
    (tmp_path / "bounding_box_test" / "Thumbs.db").write_bytes(b"\x00\x01")
    (tmp_path / "query" / "readme.txt").write_text("notes")
    assert len(load_market1501(tmp_path).gallery) == 5


def test_load_market1501_rejects_image_named_outside_pattern(tmp_path):
    write_market(tmp_path)
    Image.new("RGB", (8, 16)).save(tmp_path / "query" / "person_12.jpg")
    with pytest.raises(ValueError, match=r"person_12\.jpg.*does not follow the Market-1501 pattern"):
        load_market1501(tmp_path)


@pytest.mark.parametrize("name, message", [("0002_c7s1_000451_03.jpg", "c1..c6"), ("0002_c0s1_000451_03.jpg", "c1..c6"),
                                           ("-2_c1s1_000451_03.jpg", "person id"), ("--_c1s1_000451_03.jpg", "pattern")])
def test_parse_market_name_rejects_bad_values(name, message):
    with pytest.raises(ValueError, match=message):
        parse_market_name(Path(name))


def test_load_market1501_missing_folder_names_it(tmp_path):
    write_market(tmp_path)
    (tmp_path / "query").rename(tmp_path / "queries")
    with pytest.raises(FileNotFoundError, match=r"missing query/"):
        load_market1501(tmp_path)


def test_load_market1501_empty_folder_is_an_error(tmp_path):
    files = dict(FILES, query=[])
    write_market(tmp_path, files)
    with pytest.raises(ValueError, match=r"query: no Market-1501 images"):
        load_market1501(tmp_path)


def test_market_images_open(tmp_path):
    rs = load_market1501(write_market(tmp_path))
    assert rs.open_image("gallery", 0).size == (8, 16)
