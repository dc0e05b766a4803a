"""Hugging Face export → datasets.load_dataset → pa100k.from_hf round trips, the card, the hub cache and push."""

from __future__ import annotations

import shutil
import socket

import datasets
import numpy as np
import pytest
import scipy.io
import yaml

import pa100k
from pa100k.attribute_set import AttributeSet
from pa100k.cli import main
from pa100k.commands.hf import parse_options
from pa100k.hf import export_hf, from_hf, plan_push, push_hf


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test here may reach the network; datasets' cache lives in tmp."""
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")


def _load(path, tmp_path):
    return datasets.load_dataset(str(path), cache_dir=str(tmp_path / "ds-cache"))


@pytest.fixture
def rap_like(tmp_path, make_image):
    """A RAP-schema set with unknown labels, meta columns, an image in no split and mixed PNG/JPEG files."""
    schema = pa100k.get_schema("rap")
    n = 9
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=(n, schema.num_attributes)).astype(np.uint8)
    mask = rng.random(labels.shape) > 0.25
    labels[~mask] = 0
    images = [make_image(tmp_path / "src" / f"{i:03d}.{'png' if i % 2 else 'jpg'}", seed=i) for i in range(n)]
    return AttributeSet(
        schema=schema, names=[p.name for p in images], images=images, labels=labels,
        splits={"train": np.array([5, 0, 3, 7]), "val": np.array([1, 8]), "test": np.array([6, 2])},  # 4: none
        mask=mask, meta={"identity": np.arange(n, dtype=np.int64) * 3, "camera": np.arange(n) % 2},
        dataset="rap", root=tmp_path / "src",
    )


def _assert_identical(back: AttributeSet, src: AttributeSet) -> None:
    assert back.schema == src.schema
    assert back.dataset == src.dataset
    assert back.names.tolist() == src.names.tolist()
    np.testing.assert_array_equal(back.labels, src.labels)
    if src.mask is None:
        assert back.mask is None
    else:
        np.testing.assert_array_equal(back.mask, src.mask)
    assert set(back.splits) == set(src.splits)
    for key in src.splits:
        assert back.splits[key].tolist() == src.splits[key].tolist(), key
    assert set(back.meta) == set(src.meta)
    for key in src.meta:
        assert back.meta[key].dtype == src.meta[key].dtype
        np.testing.assert_array_equal(back.meta[key], src.meta[key])
    for i in range(len(src)):
        ref = src.images[i]
        want = ref if isinstance(ref, bytes) else ref.read_bytes()
        assert back.images[i] == want


@pytest.mark.parametrize("label_format", ["columns", "sequence"])
def test_export_load_dataset_from_hf_round_trip_is_exact(rap_like, tmp_path, label_format):
    out = export_hf(rap_like, tmp_path / "hf", label_format=label_format)
    ds = _load(out, tmp_path)
    assert set(ds) == {"train", "validation", "test", "unassigned"}
    assert ds["train"]["name"] == ["005.png", "000.jpg", "003.png", "007.png"]
    assert ds["unassigned"]["name"] == ["004.jpg"]
    assert isinstance(ds["train"].features["image"], datasets.Image)
    assert ds["test"][0]["image"].size == (12, 24)  # decodes as a PIL image
    if label_format == "columns":
        assert ds["train"].features["hs-Hat"] == datasets.Value("bool")
        row, j = 5, pa100k.get_schema("rap").index("hs-Hat")
        assert ds["train"][0]["hs-Hat"] == (bool(rap_like.labels[row, j]) if rap_like.mask[row, j] else None)
    else:
        assert ds["train"].features["labels"].length == 51
    back = from_hf(ds)
    _assert_identical(back, rap_like)


def test_export_without_mask_and_with_trainval_split_only(tmp_path, make_image):
    schema = pa100k.get_schema("peta")
    imgs = [make_image(tmp_path / "s" / f"{i:05d}.png", seed=i) for i in range(5)]
    src = AttributeSet(schema=schema, names=[p.name for p in imgs], images=imgs,
                       labels=np.eye(5, 35, dtype=np.uint8),
                       splits={"trainval": np.array([0, 1, 2]), "test": np.array([3, 4])}, dataset="peta")
    out = export_hf(src, tmp_path / "hf")
    ds = _load(out, tmp_path)
    assert set(ds) == {"trainval", "test"}
    back = from_hf(ds)
    _assert_identical(back, src)
    assert back.mask is None


def test_from_hf_of_a_folder(rap_like, tmp_path):
    out = export_hf(rap_like, tmp_path / "hf")
    _assert_identical(from_hf(out), rap_like)
    assert not (tmp_path / "hf-datasets-cache").exists()  # read from the shards, no copy in the datasets cache


def test_card_has_configs_license_citation_and_positive_ratios(rap_like, tmp_path):
    out = export_hf(rap_like, tmp_path / "hf")
    text = (out / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    meta = yaml.safe_load(header)
    files = {d["split"]: d["path"] for d in meta["configs"][0]["data_files"]}
    assert files == {s: f"data/{s}-*.parquet" for s in ("train", "validation", "test", "unassigned")}
    assert meta["license"] == "other" and meta["license_link"] == "http://www.rapdataset.com/"
    assert "HydraPlus-Net" in body and "A Richly Annotated Dataset for Pedestrian Attribute Recognition" in body
    j = rap_like.schema.index("Female")
    train = rap_like.splits["train"]
    ratio = rap_like.labels[train, j][rap_like.mask[train, j]].mean()
    assert f"| {j} | Female |  | {ratio:.4f} |" in body
    assert "| 1 | AgeLess16 | AgeLess16 / Age17-30 / Age31-45 |" in body


def test_small_shards_split_a_split_into_several_files(rap_like, tmp_path):
    out = export_hf(rap_like, tmp_path / "hf", max_shard_bytes=1)
    assert sorted(p.name for p in (out / "data").glob("train-*")) == [f"train-{i:05d}-of-00004.parquet" for i in range(4)]
    _assert_identical(from_hf(_load(out, tmp_path)), rap_like)


def test_existing_export_needs_overwrite_and_stale_shards_are_removed(rap_like, tmp_path):
    out = export_hf(rap_like, tmp_path / "hf", max_shard_bytes=1)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_hf(rap_like, out)
    export_hf(rap_like, out, overwrite=True)
    assert [p.name for p in (out / "data").glob("train-*")] == ["train-00000-of-00001.parquet"]


def test_attribute_name_clashing_with_meta_column_needs_sequence_format(rap_like, tmp_path):
    clash = AttributeSet(schema=rap_like.schema, names=rap_like.names, images=rap_like.images,
                         labels=rap_like.labels, meta={"Female": np.zeros(len(rap_like), dtype=np.int64)})
    with pytest.raises(ValueError, match=r"\['Female'\] clash with metadata columns; use label_format='sequence'"):
        export_hf(clash, tmp_path / "hf")


def test_hub_id_opens_from_the_hub_cache_offline(rap_like, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    out = export_hf(rap_like, tmp_path / "hf")
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "datasets--someone--rap-attrs"
    shutil.copytree(out, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    back = from_hf("someone/rap-attrs", cache_dir=tmp_path / "hub")
    _assert_identical(back, rap_like)


def test_hub_id_not_in_cache_offline_raises(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(FileNotFoundError, match="hub dataset 'someone/absent' is not in .*hub and the hub cannot be reached"):
        from_hf("someone/absent", cache_dir=tmp_path / "hub")


def test_from_hf_of_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither an existing folder nor a hub dataset id"):
        from_hf(tmp_path / "nothing")


def test_foreign_hub_dataset_without_description_maps_to_registered_schema(tmp_path):
    schema = pa100k.get_schema("pa100k")
    rows = {"image": [{"bytes": b"x", "path": "a.jpg"}, {"bytes": b"y", "path": "b.jpg"}], "name": ["a.jpg", "b.jpg"]}
    for j, a in enumerate(schema.attributes):
        rows[a] = [j % 2 == 0, True]
    feats = datasets.Features({"image": datasets.Image(), "name": datasets.Value("string"),
                               **{a: datasets.Value("bool") for a in schema.attributes}})
    ds = datasets.DatasetDict({"train": datasets.Dataset.from_dict({k: v[:1] for k, v in rows.items()}, features=feats),
                               "validation": datasets.Dataset.from_dict({k: v[1:] for k, v in rows.items()}, features=feats)})
    back = from_hf(ds)
    assert back.schema is schema and back.mask is None
    assert back.splits["train"].tolist() == [0] and back.splits["val"].tolist() == [1]
    assert back.labels[0, :4].tolist() == [1, 0, 1, 0] and back.images[1] == b"y"


class FakeApi:
    """Records what push_hf would send to the hub."""

    def __init__(self, remote):
        self.remote, self.calls = remote, []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def list_repo_files(self, repo_id, **kw):
        return list(self.remote)

    def create_commit(self, repo_id, operations, **kw):
        self.calls.append(("create_commit", repo_id, operations, kw))
        return "commit-info"


def test_push_commits_card_and_shards_and_deletes_stale_shards(rap_like, tmp_path):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    out = export_hf(rap_like, tmp_path / "hf")
    api = FakeApi(["README.md", ".gitattributes", "data/train-00000-of-00001.parquet",
                   "data/train-00000-of-00003.parquet", "data/old-00000-of-00001.parquet"])
    assert push_hf(out, "someone/rap-attrs", private=True, api=api) == "commit-info"
    (kind, repo, kw), (kind2, _, ops, ckw) = api.calls
    assert (kind, repo, kw["repo_type"], kw["private"], kw["exist_ok"]) == ("create_repo", "someone/rap-attrs", "dataset", True, True)
    assert kind2 == "create_commit" and ckw["repo_type"] == "dataset"
    adds = {op.path_in_repo: op for op in ops if isinstance(op, CommitOperationAdd)}
    assert set(adds) == {"README.md"} | {f"data/{s}-00000-of-00001.parquet" for s in ("train", "validation", "test", "unassigned")}
    assert adds["README.md"].path_or_fileobj == str(out / "README.md")
    deletes = sorted(op.path_in_repo for op in ops if isinstance(op, CommitOperationDelete))
    assert deletes == ["data/old-00000-of-00001.parquet", "data/train-00000-of-00003.parquet"]


def test_push_rejects_bad_repo_id_and_missing_export(tmp_path):
    with pytest.raises(ValueError, match="owner/name"):
        push_hf(tmp_path, "no-owner", api=FakeApi([]))
    with pytest.raises(FileNotFoundError, match="README.md not found; run export-hf first"):
        plan_push(tmp_path)


def _write_pa100k(root, make_image):
    attrs = pa100k.get_schema("pa100k").attributes
    rng = np.random.default_rng(3)
    content, names, k = {}, [], 1
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        split_names = [f"{i:06d}.jpg" for i in range(k, k + n)]
        k += n
        cell = np.empty((n, 1), dtype=object)
        for i, s in enumerate(split_names):
            cell[i, 0] = np.array([s])
        content[f"{split}_images_name"] = cell
        content[f"{split}_label"] = rng.integers(0, 2, size=(n, 26)).astype(np.uint8)
        names += split_names
    attr_cell = np.empty((26, 1), dtype=object)
    for i, a in enumerate(attrs):
        attr_cell[i, 0] = np.array([a])
    content["attributes"] = attr_cell
    root.mkdir(parents=True)
    scipy.io.savemat(root / "annotation.mat", content)
    for i, name in enumerate(names):
        make_image(root / "data" / name, seed=i)
    rows = ["image,scene,camera,tracklet,identity"] + [f"{n},{i % 2},{i % 3},{i // 2},{i // 2}" for i, n in enumerate(names)]
    (root / "tracklets.csv").write_text("\n".join(rows) + "\n")


def test_cli_export_hf_then_push_dry_run(tmp_path, make_image, capsys):
    root = tmp_path / "pa"
    _write_pa100k(root, make_image)
    assert main(["export-hf", "--dataset", "pa100k", "--data-root", str(root), "--out", str(tmp_path / "hf")]) == 0
    src = pa100k.load("pa100k", root)
    _assert_identical(from_hf(_load(tmp_path / "hf", tmp_path)), src)
    assert main(["push-hf", "--dir", str(tmp_path / "hf"), "--repo-id", "me/pa", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "add README.md" in printed and "add data/train-00000-of-00001.parquet" in printed


def test_cli_export_hf_reports_loader_errors(tmp_path, capsys):
    code = main(["export-hf", "--dataset", "pa100k", "--data-root", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_parse_options_types():
    assert parse_options(["partition=2", "zero_shot=true", "split_file=a.json"]) == {
        "partition": 2, "zero_shot": True, "split_file": "a.json"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_options(["partition"])


def test_empty_split_survives_the_round_trip(rap_like, tmp_path):
    src = rap_like.with_splits({"train": rap_like.splits["train"], "val": np.zeros(0, dtype=np.int64),
                                "test": np.array([1, 2, 4, 6, 8])})
    ds = _load(export_hf(src, tmp_path / "hf"), tmp_path)
    assert set(ds) == {"train", "test"}  # datasets cannot read an empty parquet split: none is written
    back = from_hf(ds)
    assert back.splits["val"].tolist() == [] and back.splits["trainval"].tolist() == src.splits["train"].tolist()
    _assert_identical(back, src)
