"""Synthetic ReID export: train and test identities are multi-camera; single-camera identities are distractors or
left out; stale cached exports are redone; the market1501 loader still reads the export unchanged."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pa100k
from pa100k import AttributeSet, get_schema
from pa100k.reid import SyntheticReIDConfig, export_market1501, load_market1501, load_reid
from pa100k.reid.synthetic import (
    FORMAT_VERSION,
    MANIFEST,
    CameraCoverage,
    camera_coverage,
    coverage_table,
    load_reid_source,
    reid_coverage,
    source_coverage,
)

# identity -> list of (camera, number of images); all in scene 0
MULTI = {1: [(0, 3), (1, 2)], 2: [(1, 2), (2, 2)], 3: [(2, 3), (3, 1)], 4: [(3, 2), (4, 2)], 5: [(0, 1), (4, 1)],
         6: [(1, 2), (5, 2)]}
SINGLE = {10: [(0, 3)], 11: [(1, 2)], 12: [(2, 4)], 13: [(3, 2)], 14: [(4, 1)]}


def fake_set(tmp_path: Path, people: dict) -> AttributeSet:
    """An AttributeSet shaped like the renderer's: JPEG files with identity/camera/scene meta."""
    folder = tmp_path / "synthetic" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    images, identity, camera = [], [], []
    rng = np.random.default_rng(0)
    for ident, views in people.items():
        for cam, n in views:
            for _ in range(n):
                path = folder / f"{len(images) + 1:06d}.jpg"
                Image.fromarray(rng.integers(0, 255, (16, 8, 3), dtype=np.uint8)).save(path)
                images.append(path)
                identity.append(ident)
                camera.append(cam)
    n = len(images)
    schema = get_schema("pa100k")
    return AttributeSet(
        schema=schema, names=[p.name for p in images], images=images,
        labels=np.zeros((n, schema.num_attributes), np.uint8), splits={"train": np.arange(n)},
        meta={"identity": np.array(identity), "camera": np.array(camera), "scene": np.zeros(n, np.int64),
              "tracklet": np.arange(n)},
        dataset="synthetic", root=tmp_path / "synthetic",
    )


def roles(out: Path) -> dict[int, set[str]]:
    """Source identity -> the roles its written images have (train, test, distractor; junk left out)."""
    found: dict[int, set[str]] = {}
    with open(out / "images.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["subset"] == "junk":
                continue
            role = "train" if r["subset"] == "bounding_box_train" else "distractor" if r["market_pid"] == "0" else "test"
            found.setdefault(int(r["identity"]), set()).add(role)
    return found


def test_camera_coverage_counts_identities_seen_by_two_cameras():
    pids = np.array([1, 1, 2, 2, 2, 3])
    cams = np.array([[0, 1], [0, 2], [0, 1], [0, 1], [1, 1], [0, 3]])  # (scene, camera): id 2 in two scenes
    c = camera_coverage(pids, cams)
    assert c == CameraCoverage(ids=3, images=6, cameras=4, multi_camera_ids=2)
    assert c.multi_camera_share == pytest.approx(2 / 3)
    assert camera_coverage(np.array([], np.int64), np.array([], np.int64)).multi_camera_share == 0.0
    assert "2 (66.7 %)" in coverage_table({"x": c})
    with pytest.raises(ValueError, match="3 pids but 2 camera rows"):
        camera_coverage(pids[:3], cams[:2])


def test_drop_leaves_single_camera_identities_out_except_distractors(tmp_path):
    aset = fake_set(tmp_path, {**MULTI, **SINGLE})
    result = export_market1501(aset, tmp_path / "out", SyntheticReIDConfig(distractor_fraction=0.2, seed=1))
    found = roles(tmp_path / "out")
    assert {p for p, r in found.items() if r & {"train", "test"}} <= set(MULTI)
    distractors = {p for p, r in found.items() if r == {"distractor"}}
    assert len(distractors) == result.num_distractor_ids == round(0.2 * 11)
    assert distractors <= set(SINGLE)  # drawn from the single-camera identities first
    dropped = set(SINGLE) - distractors
    assert result.num_dropped_ids == len(dropped) and not dropped & set(found)
    assert result.num_dropped_images == sum(n for p in dropped for _, n in SINGLE[p])
    assert result.source == CameraCoverage(ids=11, images=len(aset), cameras=6, multi_camera_ids=6)
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["config"]["single_camera"] == "drop"


@pytest.mark.parametrize("mode", ["distractor", "train"])
def test_single_camera_identities_as_distractors_or_training(tmp_path, mode):
    aset = fake_set(tmp_path, {**MULTI, **SINGLE})
    result = export_market1501(aset, tmp_path / "out", SyntheticReIDConfig(distractor_fraction=0.2, seed=1,
                                                                            single_camera=mode))
    found = roles(tmp_path / "out")
    assert set(found) == set(MULTI) | set(SINGLE) and result.num_dropped_ids == 0
    assert all(found[p] <= {"distractor", mode} for p in SINGLE)
    assert all(len(r) == 1 for r in found.values())
    if mode == "distractor":
        assert result.num_distractor_ids == len(SINGLE)
    else:
        assert sum(found[p] == {"train"} for p in SINGLE) == len(SINGLE) - result.num_distractor_ids


def test_distractors_come_from_multi_camera_identities_only_when_single_ones_run_out(tmp_path):
    aset = fake_set(tmp_path, {**MULTI, 10: SINGLE[10]})
    result = export_market1501(aset, tmp_path / "out", SyntheticReIDConfig(distractor_fraction=0.3, seed=0))
    found = roles(tmp_path / "out")
    assert found[10] == {"distractor"}
    assert result.num_distractor_ids == round(0.3 * 7)
    assert result.num_train_ids >= 1 and result.num_dropped_ids == 0


def test_export_needs_two_multi_camera_identities(tmp_path):
    aset = fake_set(tmp_path, {1: MULTI[1], **SINGLE})
    with pytest.raises(ValueError, match=r"1 multi-camera, 1 eligible for testing"):
        export_market1501(aset, tmp_path / "out")


def test_config_rejects_unknown_single_camera_role():
    with pytest.raises(ValueError, match=r"single_camera must be one of drop, distractor, train, found 'keep'"):
        SyntheticReIDConfig(single_camera="keep")


def test_stale_cached_export_is_exported_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PA100K_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(pa100k, "load", lambda name, root=None, **o: fake_set(tmp_path, {**MULTI, **SINGLE}))
    folder = tmp_path / "home" / "synthetic_reid" / "tiny-seed0"
    first = load_reid("synthetic_reid", preset="tiny")
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest.pop("format_version")  # as format 1 wrote it
    (folder / MANIFEST).write_text(json.dumps(manifest))
    (folder / "stale.txt").write_text("from format 1")
    again = load_reid("synthetic_reid", preset="tiny")
    assert not (folder / "stale.txt").exists()
    assert json.loads((folder / MANIFEST).read_text())["format_version"] == FORMAT_VERSION
    assert again.train == first.train and again.query == first.query
    (folder / MANIFEST).unlink()
    with pytest.raises(ValueError, match="has no synthetic_reid.json"):
        load_reid("synthetic_reid", preset="tiny")


# ---------------------------------------------------------------------------------------- real renderer
@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """synthetic_reid tiny, rendered and exported once for this module into its own data home."""
    home = tmp_path_factory.mktemp("pa100k-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PA100K_HOME", str(home))
        rs = load_reid("synthetic_reid", preset="tiny", seed=0)
        source = load_reid_source("tiny", seed=0)  # rendered by load_reid above: read, not rendered again
    return rs, home / "synthetic_reid" / "tiny-seed0", source


@pytest.mark.slow
def test_tiny_export_train_and_query_identities_are_all_multi_camera(tiny_export):
    rs, _, source = tiny_export
    assert source.root.name == "tiny-reid-mc70-seed0"
    assert source_coverage(source).multi_camera_share > 0.5  # asked for 70 % (the attribute preset: 30 %)
    cams: dict[tuple[str, int], set[int]] = {}
    for p, c in zip(rs.pids("train"), rs.camids("train")):
        cams.setdefault(("train", int(p)), set()).add(int(c))
    for _, p, c in rs.query + rs.gallery:
        if p > 0:
            cams.setdefault(("test", p), set()).add(c)
    train = [k for k in cams if k[0] == "train"]
    assert len(train) == rs.num_train_pids >= 2
    assert all(len(v) >= 2 for v in cams.values())
    assert {p for _, p, _ in rs.query} == {p for kind, p in cams if kind == "test"}
    cover = reid_coverage(rs)
    assert cover["train"].multi_camera_share == cover["test"].multi_camera_share == 1.0


@pytest.mark.slow
def test_tiny_export_reads_unchanged_with_the_market1501_loader(tiny_export):
    rs, folder, source = tiny_export
    market = load_market1501(folder)
    assert market.train == rs.train and market.query == rs.query and market.gallery == rs.gallery
    counts = json.loads((folder / MANIFEST).read_text())["counts"]
    assert len(market.train) == counts["num_train_images"] and len(market.query) == counts["num_query_images"]
    assert len(market.gallery) == counts["num_gallery_images"] and market.num_train_pids == counts["num_train_ids"]
    junk = sum(p.name.startswith("-1_") for p in (folder / "bounding_box_test").iterdir())
    assert counts["num_junk_images"] == junk >= 1
    written = len(market.train) + len(market.query) + len(market.gallery)
    assert written + counts["num_dropped_images"] == len(source)
    g_pids, g_cams = market.pids("gallery"), market.camids("gallery")
    assert all(((g_pids == pid) & (g_cams != cam)).any() for _, pid, cam in market.query)
