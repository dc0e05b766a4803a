"""The synthetic PA-100K: priors, the drawing of each attribute, tracklets, determinism, the official layout."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import scipy.io
from PIL import Image

import pa100k
import pa100k.loaders.pa100k
import pa100k.loaders.synthetic
from pa100k.cli import main
from pa100k.preview import contact_sheet, ratio_chart
from pa100k.synthetic import plan_dataset, read_tracklets, render_images, render_person
from pa100k.synthetic import render as render_mod
from pa100k.synthetic.presets import PRESETS, get_preset
from pa100k.synthetic.priors import (
    AGE,
    ATTRIBUTES,
    IDX,
    ORIENTATION,
    PA100K_RATIOS,
    SLEEVE,
    frame_labels,
    sample_identities,
    sample_orientations,
)

OFFICIAL_KEYS = {
    "train_images_name", "val_images_name", "test_images_name", "train_label", "val_label", "test_label", "attributes",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny preset rendered once through ``pa100k.load`` into an isolated data home."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PA100K_HOME", str(home))
        aset = pa100k.load("synthetic", preset="tiny", seed=0, workers=2)
    return home, aset


# --------------------------------------------------------------------------------------------------
# drawing: every attribute shows, locally where it is local


def _vector(*names: str) -> np.ndarray:
    v = np.zeros(len(ATTRIBUTES), dtype=np.uint8)
    for n in names:
        v[IDX[n]] = 1
    return v


BASE = ("Age18-60", "LongSleeve", "Trousers")
# For members of an exclusive set, "without" means another member of the set.
ALTERNATIVE = {
    "AgeOver60": "Age18-60", "AgeLess18": "Age18-60", "Age18-60": "AgeOver60",
    "ShortSleeve": "LongSleeve", "LongSleeve": "ShortSleeve",
}
VIEWS = ("Front", "Side", "Back")
CASES = [(a, v) for a in ATTRIBUTES if a not in VIEWS for v in VIEWS if not (a == "Glasses" and v == "Back")]


def _pair(attribute: str, view: str) -> tuple[np.ndarray, np.ndarray]:
    base = [n for n in BASE if n != attribute and n != ALTERNATIVE.get(attribute)] + [view]
    if attribute in ALTERNATIVE:
        return _vector(*base, attribute), _vector(*base, ALTERNATIVE[attribute])
    if attribute in ("Shorts", "Skirt&Dress"):
        base = [n for n in base if n != "Trousers"]
    return _vector(*base, attribute), _vector(*base)


def _changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    return np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max(axis=2) > 24


@pytest.mark.parametrize("attribute,view", CASES)
def test_every_attribute_changes_pixels_at_64x128(attribute, view):
    for seed in (0, 1, 2):
        with_, without = _pair(attribute, view)
        changed = _changed(render_person(with_, seed=seed), render_person(without, seed=seed))
        assert changed.sum() >= 6, f"{attribute} ({view}, seed {seed}) changes only {changed.sum()} pixels"


@pytest.mark.parametrize("view", VIEWS)
def test_orientation_changes_pixels(view):
    for other in VIEWS:
        if other != view:
            changed = _changed(render_person(_vector(*BASE, view), seed=3), render_person(_vector(*BASE, other), seed=3))
            assert changed.sum() > 100


@pytest.mark.parametrize("attribute,rows", [
    ("Hat", (0, 0.2)), ("Glasses", (0, 0.2)), ("UpperLogo", (0.15, 0.45)), ("boots", (0.75, 1.0)),
    ("LowerStripe", (0.4, 1.0)),
])
def test_local_attributes_change_only_their_region(attribute, rows):
    for view in ("Front", "Side") if attribute == "Glasses" else VIEWS:
        for seed in range(4):
            with_, without = _pair(attribute, view)
            changed = _changed(render_person(with_, seed=seed), render_person(without, seed=seed))
            ys = np.flatnonzero(changed.any(axis=1)) / changed.shape[0]
            assert ys.size and ys.min() >= rows[0] - 0.02 and ys.max() <= rows[1] + 0.02, (attribute, view, seed, ys.min(), ys.max())


@pytest.mark.parametrize("attribute,context", [("Glasses", ()), ("UpperLogo", ("Backpack",))])
def test_what_the_back_view_hides_is_neither_drawn_nor_labelled(attribute, context):
    for seed in range(3):
        a = render_person(_vector(*BASE, "Back", attribute, *context), seed=seed)
        b = render_person(_vector(*BASE, "Back", *context), seed=seed)
        assert np.array_equal(np.asarray(a), np.asarray(b))
    labels = frame_labels(_vector(*BASE, attribute, *context)[None, :], np.array([2]))
    assert labels[0, IDX[attribute]] == 0 and labels[0, IDX["Back"]] == 1


def test_render_person_is_deterministic_and_varies_with_seed():
    v = _vector(*BASE, "Front", "Hat", "UpperLogo")
    assert np.array_equal(np.asarray(render_person(v, seed=7)), np.asarray(render_person(v, seed=7)))
    assert not np.array_equal(np.asarray(render_person(v, seed=7)), np.asarray(render_person(v, seed=8)))
    assert render_person(v, seed=1, size=(96, 192)).size == (96, 192)


def test_render_person_rejects_bad_vectors():
    with pytest.raises(ValueError, match="shape"):
        render_person(np.zeros(25, dtype=int))
    with pytest.raises(ValueError, match="0/1"):
        render_person(np.full(26, 2))


# --------------------------------------------------------------------------------------------------
# statistics


def _sampled_frames(n: int = 200_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = sample_identities(n, rng)
    _, orient = sample_orientations(np.ones(n, dtype=int), rng)
    return frame_labels(ids, orient)


def test_priors_match_pa100k_ratios_and_rare_attributes_stay_rare():
    ratios = _sampled_frames().mean(0)
    for name, r in zip(ATTRIBUTES, ratios):
        target = PA100K_RATIOS[name]
        assert abs(r - target) <= max(0.02, 0.3 * target), f"{name}: {r:.4f} vs {target}"
    for rare in ("boots", "HoldObjectsInFront", "LowerStripe", "LowerPattern", "AgeOver60"):
        assert ratios[IDX[rare]] < 0.03


def test_priors_have_pa100k_correlations():
    y = _sampled_frames().astype(bool)
    assert (y[:, list(AGE)].sum(1) == 1).all() and (y[:, list(ORIENTATION)].sum(1) == 1).all()
    assert (y[:, list(SLEEVE)].sum(1) <= 1).mean() > 0.99
    skirt = y[:, IDX["Skirt&Dress"]]
    assert y[skirt, IDX["Female"]].mean() > 0.85
    assert y[y[:, IDX["LongCoat"]], IDX["LongSleeve"]].all()
    assert not y[y[:, IDX["Back"]], IDX["Glasses"]].any()
    assert not (y[:, IDX["Back"]] & y[:, IDX["Backpack"]] & y[:, IDX["UpperLogo"]]).any()
    assert y[y[:, IDX["AgeLess18"]], IDX["Backpack"]].mean() > 2 * y[:, IDX["Backpack"]].mean()


# --------------------------------------------------------------------------------------------------
# scenes, tracklets, identities, presets


def test_presets_have_the_issue_sizes():
    full = get_preset("full")
    assert (full.num_images, full.num_scenes, full.num_tracklets) == (100_000, 598, 18_206)
    assert 5_000 <= get_preset("small").num_images <= 20_000 and get_preset("tiny").num_images <= 600
    assert set(PRESETS.names()) >= {"tiny", "small", "full"}
    with pytest.raises(KeyError, match="tiny"):
        get_preset("huge")


def test_plan_tracklets_identities_and_cameras():
    p = plan_dataset("small", seed=1)
    assert p.num_images == 10_000 and p.num_tracklets == get_preset("small").num_tracklets
    start = p.tracklet_start
    for t in range(p.num_tracklets):  # one identity and one camera per tracklet, frames consecutive
        sl = slice(start[t], start[t + 1])
        assert (p.tracklet[sl] == t).all()
        assert len(set(p.identity[sl])) == 1 and len(set(p.camera[sl])) == 1
    hidden = [IDX["Glasses"], IDX["UpperLogo"]]  # identity attributes, unless the view hides them
    fixed = [j for j in range(26) if j not in ORIENTATION and j not in hidden]
    assert (p.labels[:, fixed] == p.identity_labels[p.identity][:, fixed]).all()
    assert (p.labels[:, hidden] <= p.identity_labels[p.identity][:, hidden]).all()
    cams = {}
    for i, c in zip(p.identity, p.camera):
        cams.setdefault(int(i), set()).add(int(c))
    multi = np.mean([len(c) > 1 for c in cams.values()])
    assert 0.2 < multi < 0.4
    assert (p.scene == p.camera_scene[p.camera]).all()
    assert 1 <= np.bincount(p.camera_scene).min() and np.bincount(p.camera_scene).max() <= 3


def test_plan_is_deterministic_and_seed_dependent():
    a, b, c = plan_dataset("tiny", 3), plan_dataset("tiny", 3), plan_dataset("tiny", 4)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.names, b.names)
    assert not np.array_equal(a.labels, c.labels)


def test_split_keeps_tracklets_whole_and_every_label_everywhere():
    p = plan_dataset("tiny", 0)
    seen = {k: set(p.tracklet[v].tolist()) for k, v in p.splits.items()}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])
    assert sum(len(v) for v in p.splits.values()) == p.num_images
    for k, v in p.splits.items():
        lab = p.labels[v]
        assert (lab.sum(0) > 0).all() and ((1 - lab).sum(0) > 0).all(), k
    assert abs(len(p.splits["train"]) / p.num_images - 0.8) < 0.05


# --------------------------------------------------------------------------------------------------
# the rendered dataset


def test_load_renders_into_data_home_in_the_official_layout(tiny):
    home, aset = tiny
    root = home / "synthetic" / "tiny-seed0"
    assert aset.root == root and aset.dataset == "synthetic" and len(aset) == get_preset("tiny").num_images
    assert sorted(p.name for p in root.iterdir()) == ["annotation.mat", "data", "synthetic.json", "tracklets.csv"]
    mat = scipy.io.loadmat(root / "annotation.mat")
    assert {k for k in mat if not k.startswith("__")} == OFFICIAL_KEYS
    assert [mat["attributes"][i][0][0] for i in range(26)] == list(ATTRIBUTES)
    n = 0
    for split in ("train", "val", "test"):
        names, labels = mat[f"{split}_images_name"], mat[f"{split}_label"]
        assert names.shape == (labels.shape[0], 1) and labels.shape[1] == 26 and labels.dtype == np.uint8
        assert [names[i][0][0] for i in range(len(names))] == [f"{k:06d}.jpg" for k in range(n + 1, n + 1 + len(names))]
        n += len(names)
    assert n == len(list((root / "data").glob("*.jpg")))


def test_annotation_mat_is_byte_identical_to_scipy_savemat(tiny):
    _, aset = tiny
    plan = plan_dataset("tiny", 0)

    def cell(strings):
        out = np.empty((len(strings), 1), dtype=object)
        for i, t in enumerate(strings):
            out[i, 0] = np.array([t])
        return out

    mat = {"attributes": cell(ATTRIBUTES)}
    for split in ("train", "val", "test"):
        idx = np.sort(plan.splits[split])
        order = idx[np.argsort(plan.names[idx])]
        mat[f"{split}_images_name"] = cell(list(plan.names[order]))
        mat[f"{split}_label"] = plan.labels[order]
    buf = io.BytesIO()
    scipy.io.savemat(buf, mat, format="5", do_compression=False)
    written = (aset.root / "annotation.mat").read_bytes()
    assert written[124:128] == buf.getvalue()[124:128] == b"\x00\x01IM"  # version 0x0100, little endian
    assert written[128:] == buf.getvalue()[128:]


def test_pa100k_loader_reads_it_unchanged_with_tracklet_meta(tiny):
    _home, aset = tiny
    plain = pa100k.load("pa100k", root=aset.root)
    assert np.array_equal(plain.labels, aset.labels) and list(plain.names) == list(aset.names)
    assert set(aset.meta) == {"tracklet", "identity", "camera", "scene"}
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(plain.splits[split], aset.splits[split])
    plan = plan_dataset("tiny", 0)
    order = np.argsort(plan.names)
    assert np.array_equal(aset.labels, plan.labels[order]) and np.array_equal(aset.meta["tracklet"], plan.tracklet[order])
    df = read_tracklets(aset.root)
    assert list(df.columns) == ["image", "scene", "camera", "tracklet", "identity"]
    assert np.array_equal(df["identity"].to_numpy(), aset.meta["identity"])


def test_annotation_split_has_no_tracklet_in_two_splits(tiny):
    _, aset = tiny
    owner = {}
    for split in ("train", "val", "test"):
        for t in set(aset.meta["tracklet"][aset.splits[split]].tolist()):
            assert owner.setdefault(t, split) == split, f"tracklet {t} in {owner[t]} and {split}"
        lab = aset.labels[aset.splits[split]]
        assert (lab.sum(0) > 0).all() and ((1 - lab).sum(0) > 0).all()


def test_images_have_pa100k_like_sizes_fixed_per_tracklet(tiny):
    _, aset = tiny
    sizes = [Image.open(p).size for p in aset.images]
    w, h = np.array(sizes).T
    assert w.min() >= 50 and h.min() >= 100 and len(set(sizes)) > 10
    for t in np.unique(aset.meta["tracklet"])[:20]:
        assert len({sizes[i] for i in np.flatnonzero(aset.meta["tracklet"] == t)}) == 1


def test_pixels_do_not_depend_on_the_number_of_workers(tiny, tmp_path):
    _, aset = tiny
    plan = plan_dataset("tiny", 0)
    tracklets = range(0, plan.num_tracklets, 9)
    n = render_images(plan, tmp_path, workers=1, tracklets=tracklets, progress=False)
    files = sorted(tmp_path.glob("*.jpg"))
    assert n == len(files) > 0
    for f in files:
        assert f.read_bytes() == (aset.root / "data" / f.name).read_bytes(), f.name


def test_second_load_reuses_the_render(tiny, monkeypatch):
    home, aset = tiny
    monkeypatch.setenv("PA100K_HOME", str(home))
    monkeypatch.setattr(render_mod, "render_dataset", lambda *a, **k: pytest.fail("rendered twice"))
    again = pa100k.load("synthetic", preset="tiny", seed=0)
    assert again.root == aset.root and len(again) == len(aset)


def test_root_holding_another_render_or_other_files_is_refused(tiny, tmp_path):
    _, aset = tiny
    with pytest.raises(ValueError, match="preset 'tiny' seed 0.*asked for preset 'tiny' seed 5"):
        pa100k.load("synthetic", root=aset.root, preset="tiny", seed=5)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="not a synthetic render"):
        pa100k.load("synthetic", root=tmp_path / "other", preset="tiny")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "synthetic.json").write_text("{")
    with pytest.raises(ValueError, match="synthetic.json: not valid JSON"):
        pa100k.load("synthetic", root=tmp_path / "bad", preset="tiny")
    with pytest.raises(ValueError, match="seed"):
        pa100k.load("synthetic", root=tmp_path / "new", preset="tiny", seed=-1)


def test_render_dataset_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        render_mod.render_dataset(tmp_path / "out", "tiny", 0)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_synth_command_writes_the_layout(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["synth", "--preset", "tiny", "--out", str(out), "--seed", "2", "--workers", "2"]) == 0
    info = json.loads((out / "synthetic.json").read_text())
    assert info["preset"] == "tiny" and info["seed"] == 2 and info["num_images"] == get_preset("tiny").num_images
    assert "images/s" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left behind
    assert main(["synth", "--preset", "tiny", "--out", str(out)]) == 2  # exists: a clear error, no traceback
    assert "not an empty folder" in capsys.readouterr().err


def test_preview_command_draws_sheet_and_ratio_chart(tiny, tmp_path, capsys):
    _, aset = tiny
    sheet = tmp_path / "sheet.png"
    args = ["preview", "--dataset", "synthetic", "--root", str(aset.root), "--preset", "tiny", "--out", str(sheet), "--count", "12"]
    assert main(args) == 0
    assert Image.open(sheet).size[0] >= 6 * 128 and Image.open(tmp_path / "sheet_ratios.png").size[0] > 400
    assert main(args[:-4] + ["--out", str(tmp_path / "hat.png"), "--attribute", "Hat", "--count", "8"]) == 0
    assert main(args[:-2] + ["--attribute", "NoSuch"]) == 2
    assert "NoSuch" in capsys.readouterr().err


def test_contact_sheet_attribute_mode_splits_positives_and_negatives(tiny, tmp_path):
    _, aset = tiny
    one = contact_sheet(aset, count=8, columns=4, attribute="Backpack")
    plain = contact_sheet(aset, count=8, columns=4)
    assert one.width > plain.width  # two panels side by side
    with pytest.raises(ValueError, match="count"):
        contact_sheet(aset, count=0)
    out = ratio_chart(aset, tmp_path / "r.png", reference=PA100K_RATIOS)
    assert out.is_file()
