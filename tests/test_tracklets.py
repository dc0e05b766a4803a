"""Tracklet recovery (pa100k.tracklets) and the ``tracklets`` command."""

from __future__ import annotations

import csv
import io
import logging

import numpy as np
import pytest
from PIL import Image

from pa100k import AttributeSet, get_schema
from pa100k.cli import main
from pa100k.splits import write_annotation
from pa100k.tracklets import (
    TrackletConfig,
    image_descriptors,
    infer,
    link_components,
    pair_counts,
    pairwise_precision_recall,
)

SCHEMA = get_schema("pa100k")
IDX = {a: i for i, a in enumerate(SCHEMA.attributes)}
ORIENTATION = [IDX["Front"], IDX["Side"], IDX["Back"]]


def _jpeg(colors: np.ndarray, rng: np.random.Generator, size=(16, 32)) -> bytes:
    """A tiny 'pedestrian': background, upper and lower body colours, a pixel of jitter and sensor noise."""
    w, h = size
    a = np.empty((h, w, 3), dtype=float)
    a[:] = colors[0]
    a[h // 8: h // 2, w // 4: 3 * w // 4] = colors[1]
    a[h // 2: 7 * h // 8, w // 4: 3 * w // 4] = colors[2]
    a = np.roll(a, int(rng.integers(-1, 2)), axis=1) + rng.normal(0, 6, a.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_tracklet_set(n_tracklets: int = 40, seed: int = 0, shuffle: bool = False) -> AttributeSet:
    """Tracklets of 2-6 frames with their own colours and labels; orientation changes per frame."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(2, 7, n_tracklets)
    tracklet = np.repeat(np.arange(n_tracklets), frames)
    labels = (rng.random((n_tracklets, SCHEMA.num_attributes)) < 0.3).astype(np.uint8)[tracklet]
    labels[:, ORIENTATION] = 0
    labels[np.arange(len(labels)), rng.choice(ORIENTATION, len(labels))] = 1
    colors = rng.integers(0, 256, (n_tracklets, 3, 3))
    images = [_jpeg(colors[t], rng) for t in tracklet]
    order = rng.permutation(len(tracklet)) if shuffle else np.arange(len(tracklet))
    n = len(tracklet)
    return AttributeSet(
        SCHEMA, np.array([f"{i + 1:06d}.jpg" for i in range(n)]), [images[i] for i in order], labels[order],
        meta={"tracklet": tracklet[order]}, dataset="test",
    )


# ------------------------------------------------------------------------------------------------
# scoring


def test_pairwise_precision_recall_matches_hand_example():
    # pred groups {0,1} {2,3,4}: 4 pairs; true {0,1,2} {3,4}: 4 pairs; shared: (0,1) and (3,4)
    pred, true = np.array([0, 0, 1, 1, 1]), np.array([5, 5, 5, 9, 9])
    assert pair_counts(pred, true) == (2, 4, 4)
    assert pairwise_precision_recall(pred, true) == (0.5, 0.5)


def test_pairwise_precision_recall_perfect_and_merged():
    true = np.array([0, 0, 1, 1, 2])
    assert pairwise_precision_recall(true + 10, true) == (1.0, 1.0)
    p, r = pairwise_precision_recall(np.zeros(5), true)  # everything merged: 10 pairs, 2 right
    assert (p, r) == (0.2, 1.0)


def test_pairwise_precision_recall_zero_division():
    singletons, true = np.arange(4), np.array([0, 0, 1, 1])
    assert pairwise_precision_recall(singletons, true) == (1.0, 0.0)
    assert np.isnan(pairwise_precision_recall(singletons, true, zero_division=np.nan)[0])


def test_pairwise_precision_recall_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        pairwise_precision_recall(np.zeros(3), np.zeros(4))


def test_link_components_numbers_by_first_image():
    comp = link_components(6, np.array([[4, 5], [1, 3], [3, 0]]))
    assert comp.tolist() == [0, 0, 1, 0, 2, 2]
    assert link_components(3, np.zeros((0, 2))).tolist() == [0, 1, 2]


# ------------------------------------------------------------------------------------------------
# inference


def test_infer_recovers_tracklets_listed_in_order():
    aset = make_tracklet_set(40, seed=1)
    pred = infer(aset)
    precision, recall = pairwise_precision_recall(pred, aset.meta["tracklet"])
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_infer_recovers_tracklets_in_shuffled_order(caplog):
    aset = make_tracklet_set(40, seed=2, shuffle=True)
    with caplog.at_level(logging.INFO, logger="pa100k.tracklets"):
        pred = infer(aset)
    assert "name order is not informative" in caplog.text
    precision, recall = pairwise_precision_recall(pred, aset.meta["tracklet"])
    assert precision >= 0.95 and recall >= 0.6, (precision, recall)


def test_infer_needs_label_agreement_but_ignores_viewpoint():
    """Six images that look alike, among 20 other tracklets: 0-2 one person (1 turned round), 3-5 another."""
    rng = np.random.default_rng(0)
    others = make_tracklet_set(20, seed=7)
    colors = np.array([[90, 90, 90], [200, 30, 30], [20, 20, 160]])
    labels = np.zeros((6, SCHEMA.num_attributes), dtype=np.uint8)
    labels[:, IDX["Front"]] = 1
    labels[1, [IDX["Front"], IDX["Back"]]] = (0, 1)  # same person turned around
    labels[3:, IDX["Hat"]] = 1  # same look, two more labels: another person
    labels[3:, IDX["Backpack"]] = 1
    n = len(others)
    aset = AttributeSet(
        SCHEMA, np.r_[others.names, [f"x{i}.jpg" for i in range(6)]],
        list(others.images) + [_jpeg(colors, rng) for _ in range(6)], np.r_[others.labels, labels],
    )
    pred = infer(aset)[n:]
    assert pred[0] == pred[1] == pred[2] and pred[3] == pred[4] == pred[5] and pred[0] != pred[3]


def test_infer_on_one_split_returns_ids_in_split_order():
    aset = make_tracklet_set(20, seed=3)
    val = np.flatnonzero(np.isin(aset.meta["tracklet"], [2, 5, 7]))
    aset = aset.with_splits({"train": np.setdiff1d(np.arange(len(aset)), val), "val": val, "test": val[:0]})
    pred = infer(aset, split="val")
    assert len(pred) == len(val)
    assert pairwise_precision_recall(pred, aset.meta["tracklet"][val]) == (1.0, 1.0)
    assert len(infer(aset, split="test")) == 0
    with pytest.raises(KeyError, match="no split 'nope'"):
        infer(aset, split="nope")


def test_infer_reuses_descriptors_and_checks_their_shape():
    aset = make_tracklet_set(15, seed=4)
    desc = image_descriptors(aset)
    assert desc.dtype == np.float32 and np.allclose(np.linalg.norm(desc, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(infer(aset, descriptors=desc), infer(aset))
    with pytest.raises(ValueError, match="one row per image"):
        infer(aset, descriptors=desc[:-1])


def test_infer_names_an_undecodable_image():
    aset = make_tracklet_set(5, seed=5)
    images = list(aset.images)
    images[3] = b"not an image"
    aset = AttributeSet(SCHEMA, aset.names, images, aset.labels, dataset="test")
    with pytest.raises(ValueError, match="000004.jpg"):
        infer(aset)


@pytest.mark.parametrize("field,value", [("link_quantile", 0.0), ("consecutive_quantile", 1.5), ("neighbours", -1)])
def test_tracklet_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        TrackletConfig(**{field: value})


# ------------------------------------------------------------------------------------------------
# command line


def test_cli_tracklets_counts_tracklets_spanning_splits(tmp_path, pa100k_home, capsys):
    aset = make_tracklet_set(24, seed=6)
    root = tmp_path / "pa100k"
    (root / "data").mkdir(parents=True)
    for name, blob in zip(aset.names, aset.images):
        (root / "data" / name).write_bytes(blob)
    tracklet = aset.meta["tracklet"]
    # tracklets 0-15 in train, 16-23 in val/test, except that tracklet 10 is cut between train and val
    in_val = (tracklet >= 16) & (tracklet < 20) | ((tracklet == 10) & (np.cumsum(tracklet == 10) > 1))
    in_test = tracklet >= 20
    splits = {"train": np.flatnonzero(~in_val & ~in_test), "val": np.flatnonzero(in_val), "test": np.flatnonzero(in_test)}
    write_annotation(root / "annotation.mat", aset, splits)
    with open(root / "tracklets.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "scene", "camera", "tracklet", "identity"])
        w.writerows([name, 0, 0, t, t] for name, t in zip(aset.names, tracklet))
    out = tmp_path / "est.csv"
    assert main(["tracklets", "--data-root", str(root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "estimated tracklets: 24" in printed
    assert "estimated tracklets spanning two or more splits: 1" in printed
    assert "true tracklets: 24, spanning two or more splits: 1" in printed
    assert "pairwise precision 1.0000, recall 1.0000" in printed
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(aset) and set(rows[0]) == {"image", "estimated_tracklet"}


def test_cli_tracklets_missing_root(tmp_path, pa100k_home, capsys):
    assert main(["tracklets", "--data-root", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err


def test_neighbour_search_by_label_blocks_equals_search_of_all_pairs(monkeypatch):
    from pa100k import tracklets

    aset = make_tracklet_set(30, seed=8, shuffle=True)
    config = TrackletConfig()
    index = np.arange(len(aset))
    desc = image_descriptors(aset, config=config)
    pos, neg = tracklets._label_parts(aset, index, config)
    assert len(tracklets._candidate_blocks(pos, neg, 1)) > 1
    by_blocks = tracklets._mutual_neighbour_links(desc, pos, neg, 0.5, config)
    monkeypatch.setattr(tracklets, "MAX_LABEL_FLIPS", 0)
    assert len(tracklets._candidate_blocks(pos, neg, 1)) == 1
    everything = tracklets._mutual_neighbour_links(desc, pos, neg, 0.5, config)
    assert len(by_blocks) > 0
    assert set(map(tuple, by_blocks.tolist())) == set(map(tuple, everything.tolist()))


def test_unknown_labels_do_not_block_links():
    aset = make_tracklet_set(20, seed=9)
    first = np.flatnonzero(aset.meta["tracklet"] == 0)
    labels, mask = aset.labels.copy(), np.ones(aset.labels.shape, dtype=bool)
    labels[first[0], [IDX["Hat"], IDX["Backpack"], IDX["Female"]]] ^= 1  # three labels off ...
    mask[first[0], [IDX["Hat"], IDX["Backpack"], IDX["Female"]]] = False  # ... but unknown
    aset = AttributeSet(SCHEMA, aset.names, aset.images, labels, mask=mask, meta=aset.meta)
    pred = infer(aset)
    assert len(set(pred[first].tolist())) == 1
    assert pairwise_precision_recall(pred, aset.meta["tracklet"]) == (1.0, 1.0)
