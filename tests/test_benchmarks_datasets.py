"""The runner's dataset table: official sets need a root; a release without val gets one carved from trainval."""

import numpy as np
import pytest

import pa100k
from benchmarks.datasets import ensure_val_split, load_benchmark_dataset
from pa100k.attribute_set import AttributeSet


def _rap_like(n=90):
    schema = pa100k.get_schema("pa100k")
    labels = np.random.default_rng(0).integers(0, 2, (n, 26), dtype=np.uint8)
    return AttributeSet(schema=schema, names=[f"{i}.png" for i in range(n)], images=[b""] * n, labels=labels,
                        splits={"trainval": np.arange(72), "test": np.arange(72, n)},
                        meta={"tracklet": np.arange(n) // 3})


def test_ensure_val_split_carves_whole_tracklets_from_trainval():
    data = ensure_val_split(_rap_like(), seed=0)
    train, val = data.splits["train"], data.splits["val"]
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(72))
    assert len(val) > 0 and len(train) > len(val)
    tr = data.meta["tracklet"]
    assert not set(tr[train]) & set(tr[val])
    assert data.splits["test"].tolist() == list(range(72, 90))


def test_ensure_val_split_is_seeded():
    a = ensure_val_split(_rap_like(), seed=1).splits["val"]
    b = ensure_val_split(_rap_like(), seed=1).splits["val"]
    assert a.tolist() == b.tolist()


def test_official_dataset_without_root_is_refused():
    with pytest.raises(ValueError, match="--data-root"):
        load_benchmark_dataset("pa100k", None)


def test_missing_root_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_benchmark_dataset("peta", tmp_path / "nowhere")
