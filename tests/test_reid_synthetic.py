"""Synthetic ReID export (Market-1501 layout) from a small fake AttributeSet, read back by the market1501 loader."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pa100k
from pa100k import AttributeSet, get_schema
from pa100k.cli import main
from pa100k.reid import SyntheticReIDConfig, export_market1501, load_market1501, load_reid
from pa100k.reid.synthetic import assign_market_cameras

NAME = re.compile(r"^(\d{4}|-1)_c([1-6])s1_(\d{6})_00\.jpg$")

# identity -> list of (scene, camera, number of images)
PEOPLE = {
    10: [(0, 0, 3), (0, 6, 2)],               # cameras 0 and 6 both prefer Market camera 1
    11: [(0, 1, 2), (0, 2, 2)],
    12: [(1, 3, 2), (1, 4, 1), (1, 5, 1)],
    13: [(1, 3, 3), (1, 8, 2)],
    14: [(0, c, 1) for c in range(7)] + [(0, 0, 1)],  # seen by 7 cameras
    15: [(0, 1, 2), (1, 1, 2)],               # camera 1 of two scenes: two different cameras
    16: [(2, 0, 2), (2, 1, 2)],
    17: [(2, 2, 2), (2, 3, 3)],
    20: [(0, 4, 3)],                          # single-camera identities
    21: [(1, 2, 2)],
    22: [(2, 5, 4)],
    23: [(0, 3, 2)],
}


def fake_synthetic(tmp_path: Path, people=PEOPLE, png_bytes_every: int = 5) -> AttributeSet:
    """An AttributeSet shaped like the synthetic renderer's: JPEG paths (some PNG bytes) with identity/camera/scene meta."""
    folder = tmp_path / "synthetic" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    images, names, identity, camera, scene = [], [], [], [], []
    rng = np.random.default_rng(0)
    for ident, views in people.items():
        for sc, cam, n in views:
            for _ in range(n):
                k = len(names)
                img = Image.fromarray(rng.integers(0, 255, (16, 8, 3), dtype=np.uint8))
                name = f"{k + 1:06d}.jpg"
                if png_bytes_every and k % png_bytes_every == 4:
                    buf = io.BytesIO()
                    img.save(buf, format="PNG")
                    images.append(buf.getvalue())
                else:
                    img.save(folder / name, format="JPEG")
                    images.append(folder / name)
                names.append(name)
                identity.append(ident)
                camera.append(cam)
                scene.append(sc)
    schema = get_schema("pa100k")
    n = len(names)
    return AttributeSet(
        schema=schema, names=names, images=images, labels=np.zeros((n, schema.num_attributes), np.uint8),
        splits={"train": np.arange(n)}, meta={"identity": np.array(identity), "camera": np.array(camera),
                                              "scene": np.array(scene), "tracklet": np.arange(n)},
        dataset="synthetic", root=tmp_path / "synthetic",
    )


def read_rows(out: Path) -> list[dict]:
    with open(out / "images.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def exported(tmp_path):
    aset = fake_synthetic(tmp_path)
    out = tmp_path / "market"
    result = export_market1501(aset, out, SyntheticReIDConfig(seed=3, distractor_fraction=0.2, junk_fraction=0.1))
    return aset, out, result


def test_export_is_read_unchanged_by_market1501_loader(exported):
    aset, out, result = exported
    rs = load_market1501(out)
    assert len(rs.train) == result.num_train_images
    assert len(rs.query) == result.num_query_images
    assert len(rs.gallery) == result.num_gallery_images  # junk dropped by the loader
    assert rs.num_train_pids == result.num_train_ids
    assert (rs.pids("gallery") == 0).sum() == result.num_distractor_images > 0
    junk = [p for p in (out / "bounding_box_test").iterdir() if p.name.startswith("-1_")]
    assert len(junk) == result.num_junk_images >= 1
    total = result.num_train_images + result.num_query_images + result.num_gallery_images
    assert result.num_dropped_images > 0  # single-camera identities that are not distractors are left out
    assert total + result.num_dropped_images == len(aset)  # every other image used exactly once, apart from junk


def test_export_file_names_follow_market_pattern(exported):
    _, out, _ = exported
    for folder in ("bounding_box_train", "query", "bounding_box_test"):
        for p in (out / folder).iterdir():
            assert NAME.match(p.name), p.name


def test_export_identity_roles_are_disjoint(exported):
    _, out, result = exported
    rows = read_rows(out)
    roles: dict[str, set] = {}
    for r in rows:
        role = {"bounding_box_train": "train", "query": "test", "junk": "junk"}.get(r["subset"], r["subset"])
        if role == "bounding_box_test":
            role = "distractor" if r["market_pid"] == "0" else "test"
        roles.setdefault(r["identity"], set()).add(role)
    assert all(len(v - {"junk"}) == 1 for v in roles.values())
    assert sum(v - {"junk"} == {"test"} for v in roles.values()) == result.num_test_ids
    assert sum(v - {"junk"} == {"distractor"} for v in roles.values()) == result.num_distractor_ids
    assert all(v - {"junk"} == {"distractor"} for v in roles.values() if "junk" in v)


def test_export_every_query_has_a_cross_camera_match(exported):
    _, out, result = exported
    rs = load_market1501(out)
    g_pids, g_cams = rs.pids("gallery"), rs.camids("gallery")
    for _, pid, camid in rs.query:
        assert ((g_pids == pid) & (g_cams != camid)).any()
    assert result.num_test_ids == len(set(rs.pids("query").tolist()))


def test_export_test_identities_are_multi_camera(exported):
    _, out, _ = exported
    rs = load_market1501(out)
    for pid in set(rs.pids("query").tolist()):
        cams = {c for _, p, c in rs.query + rs.gallery if p == pid}
        assert len(cams) >= 2


def test_export_same_source_camera_shares_market_camera(exported):
    _, out, _ = exported
    seen: dict[tuple, set] = {}
    for r in read_rows(out):
        seen.setdefault((r["identity"], r["scene"], r["camera"]), set()).add(r["market_camera"])
    assert all(len(v) == 1 for v in seen.values())
    per_identity: dict[str, dict] = {}
    for (ident, sc, cam), v in seen.items():
        per_identity.setdefault(ident, {})[(sc, cam)] = v.pop()
    for ident, mapping in per_identity.items():
        if len(mapping) <= 6:
            assert len(set(mapping.values())) == len(mapping), ident  # distinct cameras stay distinct


def test_assign_market_cameras_resolves_collisions():
    assert assign_market_cameras([(0, 0), (0, 6), (0, 0)]) == {(0, 0): 1, (0, 6): 2}
    assert assign_market_cameras([(0, 5), (0, 11)]) == {(0, 5): 6, (0, 11): 1}
    seven = assign_market_cameras([(0, c) for c in range(7)])
    assert sorted(set(seven.values())) == [1, 2, 3, 4, 5, 6]
    assert seven[(0, 6)] == 1  # the 7th camera shares a slot once all 6 are taken


def test_export_copies_jpeg_and_reencodes_other_images(exported):
    aset, out, _ = exported
    by_source = {r["source_image"]: r for r in read_rows(out) if r["subset"] != "junk"}
    k_path = next(i for i, ref in enumerate(aset.images) if isinstance(ref, Path))
    k_bytes = next(i for i, ref in enumerate(aset.images) if isinstance(ref, bytes))
    assert (out / by_source[aset.names[k_path]]["file"]).read_bytes() == aset.images[k_path].read_bytes()
    reencoded = out / by_source[aset.names[k_bytes]]["file"]
    assert reencoded.read_bytes()[:2] == b"\xff\xd8"
    with Image.open(reencoded) as im:
        assert im.format == "JPEG" and im.size == (8, 16)


def test_export_is_deterministic_per_seed(tmp_path):
    aset = fake_synthetic(tmp_path)
    listing = []
    for k, seed in enumerate((0, 0, 1)):
        out = tmp_path / f"out{k}"
        export_market1501(aset, out, SyntheticReIDConfig(seed=seed))
        listing.append(sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg")))
    assert listing[0] == listing[1]
    assert listing[0] != listing[2]


def test_export_refuses_non_empty_output_unless_overwrite(exported, tmp_path):
    aset, out, _ = exported
    with pytest.raises(ValueError, match="already exists and is not empty"):
        export_market1501(aset, out)
    (out / "stale.txt").write_text("old")
    export_market1501(aset, out, overwrite=True)
    assert not (out / "stale.txt").exists()
    assert len(load_market1501(out).query) > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_failure_leaves_nothing_behind(tmp_path):
    aset = fake_synthetic(tmp_path)
    missing = next(ref for ref in aset.images if isinstance(ref, Path))
    missing.unlink()
    out = tmp_path / "market"
    with pytest.raises(FileNotFoundError, match=missing.name):
        export_market1501(aset, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic"]


def test_export_needs_identity_meta(tmp_path):
    aset = fake_synthetic(tmp_path)
    aset.meta.pop("identity")
    with pytest.raises(ValueError, match=r"meta column 'identity' is needed"):
        export_market1501(aset, tmp_path / "out")


def test_export_needs_a_multi_camera_identity(tmp_path):
    aset = fake_synthetic(tmp_path, people={1: [(0, 0, 3)], 2: [(0, 1, 2)], 3: [(0, 2, 2)]})
    with pytest.raises(ValueError, match=r"0 eligible for testing"):
        export_market1501(aset, tmp_path / "out")


@pytest.mark.parametrize("field", ["test_fraction", "distractor_fraction", "junk_fraction"])
def test_config_rejects_fractions_outside_unit_interval(field):
    with pytest.raises(ValueError, match=field):
        SyntheticReIDConfig(**{field: 1.5})


def test_synthetic_reid_renders_once_into_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PA100K_HOME", str(tmp_path / "home"))
    calls = []

    def fake_load(name, root=None, **options):
        calls.append((name, {"root": root, **options}))
        return fake_synthetic(tmp_path)

    monkeypatch.setattr(pa100k, "load", fake_load)
    rs = load_reid("synthetic_reid", preset="tiny", seed=0)
    assert [(name, o["preset"].name, o["root"], o["seed"]) for name, o in calls] == [
        ("synthetic", "tiny-reid-mc70", tmp_path / "home" / "synthetic" / "tiny-reid-mc70-seed0", 0)]
    assert calls[0][1]["preset"].multi_camera_fraction == 0.7  # the renderer asked for more multi-camera identities
    assert rs.name == "synthetic_reid" and rs.root == tmp_path / "home" / "synthetic_reid" / "tiny-seed0"
    again = load_reid(preset="tiny")  # the default ReID dataset, already exported: no new rendering
    assert len(calls) == 1 and again.train == rs.train
    load_reid()  # default preset: the synthetic dataset's default, "small"
    assert calls[1][1]["preset"].name == "small-reid-mc80" and calls[1][1]["seed"] == 0
    assert (tmp_path / "home" / "synthetic_reid" / "small-seed0" / "query").is_dir()


def test_cli_synth_reid_and_reid_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PA100K_HOME", str(tmp_path / "home"))
    presets = []

    def fake_load(name, root=None, **options):
        presets.append(options["preset"] if isinstance(options["preset"], str) else options["preset"].name)
        return fake_synthetic(tmp_path)

    monkeypatch.setattr(pa100k, "load", fake_load)
    out = tmp_path / "market"
    assert main(["synth-reid", "--out", str(out), "--preset", "tiny", "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "query" in printed and presets == ["tiny-reid-mc70"]
    assert "  source       |     12 |        50 |        18 |         8 (66.7 %)" in printed  # 8 of 12 ids multi-camera
    assert "  train        |    " in printed and "(100.0 %)" in printed
    assert main(["synth-reid", "--out", str(tmp_path / "attr"), "--preset", "tiny", "--render", "attributes"]) == 0
    assert presets[-1] == "tiny" and "single-camera identities" in capsys.readouterr().out
    assert main(["reid-summary", "--dataset", "market1501", "--data-root", str(out)]) == 0
    table = capsys.readouterr().out
    rs = load_market1501(out)
    assert f"| {len(rs.gallery):>9} |" in table
    assert main(["synth-reid", "--out", str(out)]) == 2  # non-empty output folder
    assert "already exists" in capsys.readouterr().err
    assert main(["reid-summary", "--dataset", "viper", "--data-root", str(tmp_path / "none")]) == 2
    assert main(["reid-summary", "--dataset", "viper", "--data-root", str(out), "-o", "boxes=labeled"]) == 2
    assert "unknown option" in capsys.readouterr().err


@pytest.mark.slow
def test_synthetic_reid_from_the_real_renderer_reads_as_market1501(tmp_path, monkeypatch):
    monkeypatch.setenv("PA100K_HOME", str(tmp_path / "home"))
    rs = load_reid("synthetic_reid", preset="tiny", seed=0)
    folder = tmp_path / "home" / "synthetic_reid" / "tiny-seed0"
    market = load_market1501(folder)
    assert market.train == rs.train and market.query == rs.query and market.gallery == rs.gallery
    assert len(rs.query) > 0 and rs.num_train_pids > 0 and (rs.pids("gallery") == 0).any()
    g_pids, g_cams = rs.pids("gallery"), rs.camids("gallery")
    assert all(((g_pids == pid) & (g_cams != cam)).any() for _, pid, cam in rs.query)
    assert any(p.name.startswith("-1_") for p in (folder / "bounding_box_test").iterdir())
    dropped = json.loads((folder / "synthetic_reid.json").read_text())["counts"]["num_dropped_images"]
    junk = sum(p.name.startswith("-1_") for p in (folder / "bounding_box_test").iterdir())
    assert len(read_rows(folder)) + dropped == 400 + junk
