"""Tracklet-aware and identity-disjoint splits (pa100k.splits) and the ``split`` command."""

from __future__ import annotations

import csv
import json
import time

import numpy as np
import pytest
import scipy.io

import pa100k
from pa100k import AttributeSet, get_schema
from pa100k.cli import main
from pa100k.splits import (
    SPLIT_KEYS,
    _Stratifier,
    format_split_report,
    identity_split,
    load_splits_json,
    save_splits_json,
    spanning_groups,
    split_report,
    tracklet_split,
    write_annotation,
    write_splits_to_annotation,
)

SCHEMA = get_schema("pa100k")
IDX = {a: i for i, a in enumerate(SCHEMA.attributes)}
ORIENTATION = [IDX["Front"], IDX["Side"], IDX["Back"]]


def make_set(
    n_identities: int = 200,
    seed: int = 0,
    rare_positive: dict[str, int] | None = None,
    rare_negative: dict[str, int] | None = None,
    max_frames: int = 8,
) -> AttributeSet:
    """Random PA-100K-like labels: identities with 1-3 tracklets of 1-``max_frames`` frames; orientation per frame.

    ``rare_positive[a] = k``: only k identities are positive for ``a`` (so its positives lie in k to 3k
    tracklets); ``rare_negative`` likewise for negatives.
    """
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.15, 0.6, SCHEMA.num_attributes)
    ident_labels = (rng.random((n_identities, SCHEMA.num_attributes)) < p).astype(np.uint8)
    for name, k in (rare_positive or {}).items():
        ident_labels[:, IDX[name]] = 0
        ident_labels[rng.choice(n_identities, k, replace=False), IDX[name]] = 1
    for name, k in (rare_negative or {}).items():
        ident_labels[:, IDX[name]] = 1
        ident_labels[rng.choice(n_identities, k, replace=False), IDX[name]] = 0
    tracklet_identity = np.repeat(np.arange(n_identities), rng.integers(1, 4, n_identities))
    tracklet_identity = tracklet_identity[rng.permutation(len(tracklet_identity))]
    frames = rng.integers(1, max_frames + 1, len(tracklet_identity))
    tracklet = np.repeat(np.arange(len(tracklet_identity)), frames)
    identity = tracklet_identity[tracklet]
    labels = ident_labels[identity].copy()
    labels[:, ORIENTATION] = 0
    labels[np.arange(len(labels)), rng.choice(ORIENTATION, len(labels))] = 1
    n = len(labels)
    return AttributeSet(
        schema=SCHEMA, names=np.array([f"{i + 1:06d}.jpg" for i in range(n)]), images=[b""] * n, labels=labels,
        meta={"tracklet": tracklet * 7 + 3, "identity": identity}, dataset="test",  # ids need not be 0..T-1
    )


RARE = {"boots": 3, "HoldObjectsInFront": 3, "LowerStripe": 4, "AgeOver60": 5}


@pytest.fixture(scope="module")
def rare_set() -> AttributeSet:
    return make_set(300, seed=1, rare_positive=RARE, rare_negative={"Age18-60": 3})


def assert_partition(aset: AttributeSet, splits: dict[str, np.ndarray]) -> None:
    assert sorted(splits) == sorted(SPLIT_KEYS)
    every = np.concatenate([splits[k] for k in SPLIT_KEYS])
    assert np.array_equal(np.sort(every), np.arange(len(aset)))  # disjoint and complete
    for k in SPLIT_KEYS:
        assert splits[k].dtype == np.int64 and np.all(np.diff(splits[k]) > 0)


def test_tracklet_never_spans_two_splits(rare_set):
    splits = tracklet_split(rare_set)
    assert_partition(rare_set, splits)
    assert len(spanning_groups(rare_set.meta["tracklet"], splits)) == 0
    owner = np.empty(len(rare_set), dtype=int)
    for s, k in enumerate(SPLIT_KEYS):
        owner[splits[k]] = s
    for t in np.unique(rare_set.meta["tracklet"]):
        assert len(np.unique(owner[rare_set.meta["tracklet"] == t])) == 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_split_has_positives_and_negatives_of_all_attributes(seed):
    aset = make_set(250, seed=seed, rare_positive=RARE, rare_negative={"Age18-60": 3, "Trousers": 4})
    splits = tracklet_split(aset, seed=seed)
    for k in SPLIT_KEYS:
        lab = aset.labels[splits[k]]
        assert (lab.sum(0) >= 1).all(), (k, [a for a, c in zip(SCHEMA.attributes, lab.sum(0)) if c == 0])
        assert ((1 - lab).sum(0) >= 1).all(), k
    report = split_report(aset, splits)
    assert report.attrs["missing"] == [] and report.attrs["min_positives"] >= 1 and report.attrs["min_negatives"] >= 1


@pytest.mark.parametrize("ratios", [(8, 1, 1), (6, 2, 2), (0.7, 0.15, 0.15)])
@pytest.mark.parametrize("seed", [0, 5])
def test_ratios_within_half_a_percentage_point(ratios, seed):
    aset = make_set(300, seed=seed, rare_positive=RARE)
    splits = tracklet_split(aset, ratios=ratios, seed=seed)
    share = np.array([len(splits[k]) for k in SPLIT_KEYS]) / len(aset)
    target = np.asarray(ratios, dtype=float) / np.sum(ratios)
    assert np.abs(share - target).max() * 100 <= 0.5, (share, target)
    assert split_report(aset, splits, ratios=ratios).attrs["max_share_error_pp"] <= 0.5


def test_positive_ratios_follow_the_whole_set(rare_set):
    """Stratification, not only coverage: common attributes keep their ratio in every split."""
    report = split_report(rare_set, tracklet_split(rare_set))
    common = report["all_ratio"].between(0.1, 0.9)
    assert report.loc[common, "max_ratio_diff"].max() < 0.05


def test_identity_split_shares_no_identity(rare_set):
    splits = identity_split(rare_set)
    assert_partition(rare_set, splits)
    ids = [set(rare_set.meta["identity"][splits[k]].tolist()) for k in SPLIT_KEYS]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert len(spanning_groups(rare_set.meta["tracklet"], splits)) == 0  # identity-disjoint is tracklet-disjoint
    assert split_report(rare_set, splits).attrs["missing"] == []


def test_attribute_in_two_tracklets_raises_naming_it():
    aset = make_set(120, seed=3)
    tracklets = np.unique(aset.meta["tracklet"])
    labels = aset.labels.copy()
    labels[:, IDX["boots"]] = 0
    labels[np.isin(aset.meta["tracklet"], tracklets[[4, 9]]), IDX["boots"]] = 1
    aset = AttributeSet(SCHEMA, aset.names, aset.images, labels, meta=aset.meta, dataset="test")
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"positive images of attribute 'boots' lie in only 2 tracklet") as err:
        tracklet_split(aset)
    assert "3 splits" in str(err.value)
    assert time.perf_counter() - start < 5


def test_rare_negative_in_two_tracklets_raises_naming_it():
    aset = make_set(120, seed=4)
    labels = aset.labels.copy()
    labels[:, IDX["Age18-60"]] = 1
    labels[aset.meta["tracklet"] == aset.meta["tracklet"][0], IDX["Age18-60"]] = 0
    labels[aset.meta["tracklet"] == aset.meta["tracklet"][-1], IDX["Age18-60"]] = 0
    aset = AttributeSet(SCHEMA, aset.names, aset.images, labels, meta=aset.meta, dataset="test")
    with pytest.raises(ValueError, match=r"negative images of attribute 'Age18-60' lie in only 2"):
        tracklet_split(aset)


def _jointly_impossible() -> AttributeSet:
    """4 tracklets of 4 images; every label is in >= 3 tracklets, yet no 3-way split covers all.

    Female is mixed in tracklets 0 and 1, all positive in 2, all negative in 3; AgeOver60 is mixed in 2 and 3,
    positive in 0, negative in 1. The two splits that get a single tracklet need one mixed in both: none is.
    """
    n = 16
    k = np.arange(n) % 4
    labels = ((k[:, None] + np.arange(SCHEMA.num_attributes)[None, :]) % 2).astype(np.uint8)
    tracklet = np.arange(n) // 4
    female = {0: k % 2, 1: k % 2, 2: np.ones(n), 3: np.zeros(n)}
    over60 = {0: np.ones(n), 1: np.zeros(n), 2: k % 2, 3: k % 2}
    for t in range(4):
        labels[tracklet == t, IDX["Female"]] = female[t][tracklet == t]
        labels[tracklet == t, IDX["AgeOver60"]] = over60[t][tracklet == t]
    return AttributeSet(SCHEMA, np.array([f"{i:06d}.jpg" for i in range(n)]), [b""] * n, labels,
                        meta={"tracklet": tracklet}, dataset="tiny")


def test_jointly_impossible_split_raises_after_exact_check():
    with pytest.raises(ValueError, match="checked exactly"):
        tracklet_split(_jointly_impossible())


def test_exact_solver_covers_every_label_from_a_bad_start():
    aset = make_set(40, seed=8, rare_positive={"boots": 3, "Hat": 3}, rare_negative={"Age18-60": 3})
    inverse = np.unique(aset.meta["tracklet"], return_inverse=True)[1]
    counts = np.concatenate([aset.labels, 1 - aset.labels], axis=1).astype(np.int64)
    per_group = np.zeros((inverse.max() + 1, counts.shape[1]), dtype=np.int64)
    np.add.at(per_group, inverse, counts)
    state = _Stratifier(per_group, np.bincount(inverse), np.array([0.8, 0.1, 0.1]), np.arange(len(per_group)))
    for g in range(len(per_group)):
        state.place(g, 0)  # everything in train: val and test lack every label
    assert state.solve_exact(max_error_pp=1.0) is True
    assert (state.cover >= 1).all()
    assert state.share_error_pp() <= 1.0
    assert state.solve_exact(max_error_pp=0.0) is False  # 0.8 * N images is not a whole number here: proven impossible


def test_same_seed_same_split_and_other_seed_other_split(rare_set):
    a, b, c = tracklet_split(rare_set, seed=7), tracklet_split(rare_set, seed=7), tracklet_split(rare_set, seed=8)
    assert all(np.array_equal(a[k], b[k]) for k in SPLIT_KEYS)
    assert not all(np.array_equal(a[k], c[k]) for k in SPLIT_KEYS)


def test_groups_argument_overrides_meta(rare_set):
    identity = rare_set.meta["identity"]
    splits = tracklet_split(rare_set, groups=identity)
    assert len(spanning_groups(identity, splits)) == 0


def test_missing_tracklet_column_suggests_infer(rare_set):
    aset = AttributeSet(SCHEMA, rare_set.names, rare_set.images, rare_set.labels, dataset="pa100k")
    with pytest.raises(ValueError, match=r"no meta\['tracklet'\].*tracklets\.infer"):
        tracklet_split(aset)
    with pytest.raises(ValueError, match=r"meta\['identity'\]"):
        identity_split(aset)


@pytest.mark.parametrize("ratios", [(8, 1), (8, 0, 2), (8, -1, 1), (8, float("nan"), 1)])
def test_bad_ratios_raise(rare_set, ratios):
    with pytest.raises(ValueError, match="ratios"):
        tracklet_split(rare_set, ratios=ratios)


def test_bad_groups_raise(rare_set):
    with pytest.raises(ValueError, match="one group id per image"):
        tracklet_split(rare_set, groups=np.zeros(3))
    groups = np.zeros(len(rare_set))
    groups[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tracklet_split(rare_set, groups=groups)


def test_unknown_labels_count_as_neither_class():
    aset = make_set(150, seed=2)
    mask = np.ones(aset.labels.shape, dtype=bool)
    mask[:, IDX["Hat"]] = aset.labels[:, IDX["Hat"]] == 0  # every positive Hat label unknown
    aset = AttributeSet(SCHEMA, aset.names, aset.images, aset.labels, mask=mask, meta=aset.meta)
    with pytest.raises(ValueError, match="positive images of attribute 'Hat' lie in only 0"):
        tracklet_split(aset)


def test_split_report_counts_match_hand_example():
    labels = np.zeros((6, SCHEMA.num_attributes), dtype=np.uint8)
    labels[[0, 1, 4], IDX["Female"]] = 1
    aset = AttributeSet(SCHEMA, np.array([f"{i}.jpg" for i in range(6)]), [b""] * 6, labels)
    splits = {"train": np.array([0, 1, 2, 3]), "val": np.array([4]), "test": np.array([5])}
    report = split_report(aset, splits, ratios=(4, 1, 1))
    row = report.loc["Female"]
    assert (row["train_pos"], row["train_neg"], row["val_pos"], row["test_neg"]) == (2, 2, 1, 1)
    assert row["train_ratio"] == 0.5 and row["val_ratio"] == 1.0 and row["test_ratio"] == 0.0
    assert row["all_ratio"] == pytest.approx(0.5) and row["max_ratio_diff"] == pytest.approx(0.5)
    assert report.attrs["images"] == {"train": 4, "val": 1, "test": 1}
    assert report.attrs["max_share_error_pp"] == pytest.approx(0.0)
    assert ("val", "Female", "negative") in report.attrs["missing"]
    assert ("test", "Female", "positive") in report.attrs["missing"]
    text = format_split_report(report)
    assert "Female" in text and "MISSING" in text


def test_full_size_split_is_fast_and_on_target():
    """100k images in 18k tracklets (the paper's size) in a few seconds, every ratio within 0.5 pp."""
    rng = np.random.default_rng(0)
    t = 18_206
    frames = 1 + rng.poisson(4.5, t)
    tracklet = np.repeat(np.arange(t), frames)
    ratios = np.array([.45, .02, .92, .06, .34, .32, .34, .04, .19, .18, .19, .15, .01, .55, .45, .04, .13, .11,
                       .05, .01, .02, .03, .72, .14, .12, .006])
    labels = (rng.random((t, SCHEMA.num_attributes)) < ratios).astype(np.uint8)[tracklet]
    n = len(tracklet)
    aset = AttributeSet(SCHEMA, np.arange(n).astype(str), [b""] * n, labels, meta={"tracklet": tracklet})
    start = time.perf_counter()
    splits = tracklet_split(aset)
    elapsed = time.perf_counter() - start
    report = split_report(aset, splits, ratios=(8, 1, 1))
    assert report.attrs["max_share_error_pp"] <= 0.5 and report.attrs["missing"] == []
    assert elapsed < 30, elapsed


# ------------------------------------------------------------------------------------------------
# files


def test_splits_json_round_trip_uses_names(tmp_path, rare_set):
    splits = tracklet_split(rare_set, seed=3)
    path = save_splits_json(tmp_path / "splits.json", rare_set, splits, seed=3, ratios=(8, 1, 1), method="tracklet")
    doc = json.loads(path.read_text())
    assert doc["seed"] == 3 and doc["ratios"] == [8, 1, 1] and doc["dataset"] == "test"
    assert doc["val"][:2] == rare_set.names[splits["val"][:2]].tolist()
    # names, not positions: a reordered set gets the same images back
    order = np.random.default_rng(0).permutation(len(rare_set))
    shuffled = rare_set.select(order)
    back = load_splits_json(path, shuffled)
    for k in SPLIT_KEYS:
        assert set(shuffled.names[back[k]]) == set(rare_set.names[splits[k]])


def test_load_splits_json_errors(tmp_path, rare_set):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_splits_json(tmp_path / "nope.json", rare_set)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_splits_json(bad, rare_set)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="'train' must be a list"):
        load_splits_json(bad, rare_set)
    bad.write_text(json.dumps({"train": ["000001.jpg", "zzz.jpg"], "val": [], "test": []}))
    with pytest.raises(ValueError, match="zzz.jpg"):
        load_splits_json(bad, rare_set)
    bad.write_text(json.dumps({"train": ["000001.jpg"], "val": ["000001.jpg"], "test": []}))
    with pytest.raises(ValueError, match="both 'train' and 'val'"):
        load_splits_json(bad, rare_set)


def _layout(root, aset: AttributeSet, splits: dict[str, np.ndarray]) -> None:
    """A PA-100K folder: data/ (empty files: the loader only checks presence), annotation.mat, tracklets.csv."""
    (root / "data").mkdir(parents=True)
    for name in aset.names:
        (root / "data" / name).write_bytes(b"")
    write_annotation(root / "annotation.mat", aset, splits)
    with open(root / "tracklets.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "scene", "camera", "tracklet", "identity"])
        for row in zip(aset.names, np.zeros(len(aset), int), np.zeros(len(aset), int), aset.meta["tracklet"],
                       aset.meta["identity"]):
            w.writerow(row)


def _first_half_split(n: int) -> dict[str, np.ndarray]:
    return {"train": np.arange(0, n // 2), "val": np.arange(n // 2, 3 * n // 4), "test": np.arange(3 * n // 4, n)}


def test_write_splits_to_annotation_official_nesting(tmp_path, pa100k_home):
    aset = make_set(120, seed=6, rare_positive={"boots": 3})
    _layout(tmp_path, aset, _first_half_split(len(aset)))
    splits = tracklet_split(aset)
    write_splits_to_annotation(tmp_path, aset, splits)
    mat = scipy.io.loadmat(str(tmp_path / "annotation.mat"))
    for k in SPLIT_KEYS:
        names = mat[f"{k}_images_name"]
        assert names.shape == (len(splits[k]), 1)
        assert [names[i][0][0] for i in range(len(names))] == aset.names[splits[k]].tolist()
        assert mat[f"{k}_label"].dtype == np.uint8 and mat[f"{k}_label"].shape == (len(splits[k]), 26)
        assert np.array_equal(mat[f"{k}_label"], aset.labels[splits[k]])
    assert [mat["attributes"][i][0][0] for i in range(26)] == list(SCHEMA.attributes)
    assert (tmp_path / "annotation.orig.mat").is_file()
    original = scipy.io.loadmat(str(tmp_path / "annotation.orig.mat"))
    assert len(original["train_images_name"]) == len(aset) // 2
    loaded = pa100k.load("pa100k", root=tmp_path)
    assert len(spanning_groups(loaded.meta["tracklet"], loaded.splits)) == 0
    assert {k: len(loaded.splits[k]) for k in SPLIT_KEYS} == {k: len(splits[k]) for k in SPLIT_KEYS}


def test_write_splits_to_annotation_errors(tmp_path, rare_set):
    splits = tracklet_split(rare_set)
    with pytest.raises(FileNotFoundError, match="annotation.mat"):
        write_splits_to_annotation(tmp_path, rare_set, splits)
    (tmp_path / "annotation.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match="annotation.mat"):
        write_splits_to_annotation(tmp_path, rare_set, splits)
    other = rare_set.select(np.arange(len(rare_set) - 5))
    write_annotation(tmp_path / "annotation.mat", other, _first_half_split(len(other)))
    with pytest.raises(ValueError, match="must hold exactly the"):
        write_splits_to_annotation(tmp_path, rare_set, splits)
    before = (tmp_path / "annotation.mat").read_bytes()
    assert not (tmp_path / "annotation.orig.mat").exists() and before == (tmp_path / "annotation.mat").read_bytes()


# ------------------------------------------------------------------------------------------------
# command line


def test_cli_split_writes_json_and_annotation(tmp_path, pa100k_home, capsys):
    aset = make_set(120, seed=9, rare_positive={"boots": 3})
    root = tmp_path / "pa100k"
    _layout(root, aset, _first_half_split(len(aset)))
    out = tmp_path / "splits.json"
    assert main(["split", "--data-root", str(root), "--out", str(out), "--write-annotation"]) == 0
    printed = capsys.readouterr().out
    assert "min positives per attribute per split" in printed and "MISSING" not in printed
    doc = json.loads(out.read_text())
    loaded = pa100k.load("pa100k", root=root)
    for k in SPLIT_KEYS:
        assert sorted(loaded.names[loaded.splits[k]].tolist()) == sorted(doc[k])
    assert len(spanning_groups(loaded.meta["tracklet"], loaded.splits)) == 0
    # the JSON can be applied again, and an identity split can be asked for
    assert main(["split", "--data-root", str(root), "--from-json", str(out)]) == 0
    assert main(["split", "--data-root", str(root), "--by", "identity", "--seed", "2"]) == 0


def test_cli_split_without_tracklets_explains(tmp_path, pa100k_home, capsys):
    aset = make_set(60, seed=10)
    root = tmp_path / "pa100k"
    _layout(root, aset, _first_half_split(len(aset)))
    (root / "tracklets.csv").unlink()
    assert main(["split", "--data-root", str(root)]) == 2
    assert "tracklets.infer" in capsys.readouterr().err
    assert main(["split", "--data-root", str(tmp_path / "missing")]) == 2
