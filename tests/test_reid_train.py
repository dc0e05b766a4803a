"""ReID training and evaluation (hpnet.reid) and the ReID runner (benchmarks.reid_runner), on tiny data written here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hpnet.config import ALL_PATHS, MDA_ABLATIONS
from hpnet.engine import TrainConfig
from hpnet.reid import (
    IdentityBatchSampler,
    IdentityLoss,
    ImageStore,
    ReIDImageDataset,
    ReIDTrainer,
    apply_overrides,
    batch_hard_triplet_loss,
    evaluate_features,
    extract_features,
    fit_identity,
    holdout_split,
    image_names,
    random_ranking_top1,
    top_k_lists,
    write_features_npz,
)
from pa100k.reid import ReIDSet, merge_train

COLOURS = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (220, 220, 30), (30, 220, 220), (220, 30, 220),
           (120, 60, 0), (250, 250, 250), (0, 0, 0), (128, 128, 128)]


def fake_reidset(root: Path, *, train_ids: int = 6, test_ids: int = 3, per_camera: int = 2) -> ReIDSet:
    """Identities of one colour each (with noise), two cameras, PNG files; query = 1 image per test id and camera."""
    from PIL import Image

    rng = np.random.default_rng(0)

    def write(name: str, colour: tuple[int, int, int]) -> Path:
        pixels = np.clip(np.array(colour)[None, None, :] + rng.normal(0, 20, (24, 12, 3)), 0, 255).astype(np.uint8)
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        return path

    train, query, gallery = [], [], []
    for p in range(train_ids):
        for cam in (0, 1):
            for j in range(per_camera):
                train.append((write(f"train/{p:04d}_c{cam}_{j}.png", COLOURS[p]), p, cam))
    for t in range(test_ids):
        pid, colour = 100 + t, COLOURS[train_ids + t]
        for cam in (0, 1):
            query.append((write(f"query/{pid:04d}_c{cam}_q.png", colour), pid, cam))
            for j in range(per_camera):
                gallery.append((write(f"gallery/{pid:04d}_c{cam}_{j}.png", colour), pid, cam))
    gallery.append((write("gallery/0000_c0_d.png", (60, 90, 150)), 0, 0))  # a distractor
    return ReIDSet(name="fake", train=train, query=query, gallery=gallery, protocol="market1501", root=root)


# ------------------------------------------------------------------------------------------------ data
def test_holdout_split_holds_out_one_image_of_identities_with_enough_images():
    labels = np.array([0] * 5 + [1] * 2 + [2] * 6)
    train, val = holdout_split(labels, per_identity=1, min_images=5, seed=3)
    assert sorted(labels[val].tolist()) == [0, 2]
    assert set(train) | set(val) == set(range(len(labels))) and not set(train) & set(val)
    assert set(labels[train]) == {0, 1, 2}


def test_holdout_split_zero_holds_out_nothing_and_bad_minimum_raises():
    train, val = holdout_split([0, 0, 1], per_identity=0, min_images=1)
    assert len(val) == 0 and train.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="min_images must exceed per_identity"):
        holdout_split([0, 0, 1], per_identity=2, min_images=2)


def test_identity_batch_sampler_yields_p_identities_of_k_images():
    labels = np.repeat(np.arange(5), [4, 4, 1, 6, 3])
    sampler = IdentityBatchSampler(labels, batch_size=8, instances=4, num_batches=3, seed=1)
    batches = list(sampler)
    assert len(batches) == 3
    for batch in batches:
        ids, counts = np.unique(labels[batch], return_counts=True)
        assert len(ids) == 2 and counts.tolist() == [4, 4]
    sampler.epoch = 1
    assert list(sampler) != batches


def test_image_store_decodes_to_size_and_dataset_normalises(tmp_path):
    rs = fake_reidset(tmp_path, train_ids=2, test_ids=1)
    store = ImageStore([r for r, _, _ in rs.train], (16, 8))
    assert store.images.shape == (len(rs.train), 3, 16, 8) and store.images.dtype == torch.uint8
    lazy = ImageStore([r for r, _, _ in rs.train], (16, 8), cache=False)
    assert torch.equal(lazy.get(3), store.get(3))
    ds = ReIDImageDataset(store, rs.pids("train"), [1, 3], mean=(0.5,) * 3, std=(0.25,) * 3)
    x, y = ds[1]
    assert x.shape == (3, 16, 8) and int(y) == rs.train[3][1]
    assert torch.allclose(x, (store.get(3).float() / 255 - 0.5) / 0.25)
    with pytest.raises(ValueError, match="one class per stored image"):
        ReIDImageDataset(store, [0, 1], mean=(0.5,) * 3, std=(0.25,) * 3)


def test_image_names_are_file_names_and_clashes_raise(tmp_path):
    items = [(Path("a/x.jpg"), 1, 0), (Path("b/y.jpg"), 1, 1), (b"\xff\xd8", 2, 0)]
    assert image_names(items, "query") == ["x.jpg", "y.jpg", "query_000002"]
    assert image_names([(Path("a/x.jpg"), 1, 0), (Path("b/x.jpg"), 2, 0)], "gallery") == ["a/x.jpg", "b/x.jpg"]
    with pytest.raises(ValueError, match="both named 'a/x.jpg'"):
        image_names([(Path("a/x.jpg"), 1, 0), (Path("a/x.jpg"), 2, 0)], "gallery")


# ---------------------------------------------------------------------------------------------- losses
def test_batch_hard_triplet_loss_matches_hand_computed_example():
    f = torch.tensor([[0.0], [1.0], [3.0], [3.5]])
    y = torch.tensor([0, 0, 1, 1])
    # hardest positive / negative: a0 1 / 3, a1 1 / 2, a2 0.5 / 2, a3 0.5 / 2.5; margin 1.5
    expected = (0.0 + 0.5 + 0.0 + 0.0) / 4
    assert batch_hard_triplet_loss(f, y, margin=1.5).item() == pytest.approx(expected, abs=1e-5)
    assert batch_hard_triplet_loss(f, torch.tensor([0, 1, 2, 3])).item() == 0.0  # no positive anywhere


def test_identity_loss_is_cross_entropy_and_adds_triplet_term():
    torch.manual_seed(0)
    feats, logits, y = torch.randn(6, 4), torch.randn(6, 3), torch.tensor([0, 0, 1, 1, 2, 2])
    ce = nn.functional.cross_entropy(logits, y)
    assert IdentityLoss()(feats, logits, y).item() == pytest.approx(ce.item())
    both = IdentityLoss(triplet_weight=2.0, margin=0.3)(feats, logits, y)
    assert both.item() == pytest.approx(ce.item() + 2.0 * batch_hard_triplet_loss(feats, y, 0.3).item(), rel=1e-5)
    with pytest.raises(ValueError, match=r"identity labels must lie in 0\.\.2, found 0\.\.3"):
        IdentityLoss()(feats, logits, torch.tensor([0, 0, 1, 1, 2, 3]))


# --------------------------------------------------------------------------------------------- metrics
def test_random_ranking_top1_market_and_single_gallery_shot():
    q_pids, q_cams = np.array([1, 2, 3]), np.array([0, 0, 0])
    g_pids = np.array([1, 1, 1, 2, 0, -1, 4])
    g_cams = np.array([0, 1, 1, 1, 1, 1, 1])
    # query 1: same-camera image removed → 2 matches among 5 ranked (junk dropped); query 2: 1 of 6; query 3: none.
    assert random_ranking_top1(q_pids, g_pids, q_cams, g_cams, "market1501") == pytest.approx((2 / 5 + 1 / 6) / 2)
    # single gallery shot: gallery identities 0, 1, 2, 4
    assert random_ranking_top1(q_pids, g_pids, q_cams, g_cams, "viper") == pytest.approx(1 / 4)


def test_evaluate_features_perfect_features_score_one_with_intervals():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 8))
    q_pids, g_pids = np.arange(1, 6), np.repeat(np.arange(1, 6), 2)
    qf = centres[q_pids - 1] + 0.01 * rng.normal(size=(5, 8))
    gf = centres[g_pids - 1] + 0.01 * rng.normal(size=(10, 8))
    res = evaluate_features(qf, gf, q_pids, g_pids, np.zeros(5, int), np.ones(10, int), n_bootstrap=50)
    assert res["top1"] == 1.0 and res["mAP"] == pytest.approx(1.0) and res["mINP"] == pytest.approx(1.0)
    assert set(res["ci95"]) == {"top1", "top5", "top10", "mAP", "mINP"}  # the gallery is too small for top-20
    assert res["random_top1"] == pytest.approx(0.2) and res["num_gallery_ids"] == 5 and res["feature_dim"] == 8
    worse = evaluate_features(qf, gf[::-1].copy(), q_pids, g_pids[::-1].copy(), np.zeros(5, int), np.ones(10, int),
                              n_bootstrap=0, protocol="cuhk03_single_shot", repeats=5)
    assert worse["top1"] == 1.0 and worse["ci95"] == {} and worse["repeats"] == 5


def test_top_k_lists_skip_junk_and_same_camera_images():
    qf = np.array([[1.0, 0.0]])
    gf = np.array([[1.0, 0.0], [0.99, 0.1], [0.9, 0.3], [0.0, 1.0]])
    g_pids, g_cams = np.array([7, -1, 7, 3]), np.array([0, 1, 1, 1])
    idx, match = top_k_lists(qf, gf, np.array([7]), g_pids, np.array([0]), g_cams, k=4)
    assert idx.tolist() == [[2, 3, -1, -1]]  # 0: same id and camera; 1: junk
    assert match.tolist() == [[True, False, False, False]]


def test_write_features_npz_holds_the_submission_keys(tmp_path):
    path = tmp_path / "f.npz"
    write_features_npz(path, np.ones((2, 3)), np.zeros((4, 3)), ["a", "b"], ["c", "d", "e", "f"])
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(["query_features", "gallery_features", "query_names", "gallery_names"])
        assert z["query_features"].dtype == np.float32 and z["gallery_features"].shape == (4, 3)
        assert z["query_names"].dtype.kind == "U" and z["gallery_names"].tolist() == ["c", "d", "e", "f"]
    with pytest.raises(ValueError, match="3 query names for 2 query feature rows"):
        write_features_npz(path, np.ones((2, 3)), np.zeros((4, 3)), ["a", "b", "c"], ["c", "d", "e", "f"])


# ------------------------------------------------------------------------------------- training loop
class ToyModel(nn.Module):
    """forward_features / forward_head on 2-D inputs (a linear embedding and a linear classifier)."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Linear(2, 8)
        self.bn = nn.BatchNorm1d(8)
        self.classifier = nn.Linear(8, classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.embed(x)))

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.classifier(f)


def blobs(n: int, seed: int) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    return torch.utils.data.TensorDataset(centres[y] + torch.randn(n, 2, generator=g), y)


def test_fit_identity_learns_and_selects_on_held_out_accuracy(tmp_path):
    torch.manual_seed(0)
    model = ToyModel()
    cfg = TrainConfig(epochs=4, batch_size=16, lr=0.1, scheduler="none", device="cpu", seed=1)
    rec = fit_identity(model, blobs(96, 0), blobs(30, 1), loss_fn=IdentityLoss(), config=cfg,
                       checkpoint_dir=tmp_path / "ck", progress=False)
    accs = [h["val_accuracy"] for h in rec.history]
    assert rec.selection == "val_accuracy" and rec.best_val_accuracy == max(accs) >= 0.9
    assert rec.best_epoch == accs.index(max(accs)) + 1
    assert (tmp_path / "ck" / "last" / "training_state.json").is_file()  # hpnet.engine.fit's format, no pickle
    assert (tmp_path / "ck" / "best" / "model.safetensors").is_file() and not list((tmp_path / "ck").rglob("*.pt"))

    again = ToyModel()  # resuming a finished stage trains nothing and restores the selected weights
    rec2 = fit_identity(again, blobs(96, 0), blobs(30, 1), loss_fn=IdentityLoss(), config=cfg,
                        checkpoint_dir=tmp_path / "ck", resume=True, progress=False)
    assert rec2.history == rec.history and rec2.best_epoch == rec.best_epoch
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="training config differs"):
        fit_identity(ToyModel(), blobs(96, 0), None, loss_fn=IdentityLoss(), config=TrainConfig(epochs=5, device="cpu"),
                     checkpoint_dir=tmp_path / "ck", resume=True, progress=False)


def test_fit_identity_without_held_out_images_keeps_the_last_epoch():
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=2, batch_size=12, lr=0.05, device="cpu")
    train = blobs(36, 0)
    with pytest.raises(ValueError, match="need train_dataset.labels"):
        fit_identity(ToyModel(), train, None, loss_fn=IdentityLoss(), config=cfg, progress=False, instances_per_id=4)
    train.labels = train.tensors[1].numpy()
    rec = fit_identity(ToyModel(), train, None, loss_fn=IdentityLoss(triplet_weight=1.0), config=cfg,
                       progress=False, instances_per_id=4)
    assert rec.selection == "last_epoch" and rec.best_epoch == 2 and rec.best_val_accuracy is None
    assert all(math.isfinite(h["train_loss"]) for h in rec.history)


# ----------------------------------------------------------------------------------------- overrides
def test_apply_overrides_routes_each_key():
    tp = apply_overrides("tiny", {"feature": "fc", "mnet_epochs": 3, "mda.lr": 0.5, "model.attention_channels": 3,
                                  "attention_config": "naive", "triplet_weight": 1.0})
    assert tp.feature == "fc" and tp.runs_fusion and tp.mnet.epochs == 3 and tp.mda.lr == 0.5
    config = tp.model_config(10)
    assert config.attention_channels == 3 and config.paths == MDA_ABLATIONS.get("naive") and tp.triplet_weight == 1.0
    with pytest.raises(ValueError, match="override 'colour' is not a ReID training setting; valid: .*attention_config"):
        apply_overrides("tiny", {"colour": 1})
    with pytest.raises(KeyError, match="valid names: full, naive, no_middle, prune_one, prune_two"):
        apply_overrides("tiny", {"attention_config": "half"})
    with pytest.raises(ValueError, match="HPNetConfig has no field"):
        apply_overrides("tiny", {"model.colour": 1})


# ------------------------------------------------------------------------------------------- trainer
def test_trainer_rejects_labels_that_are_not_relabelled(tmp_path):
    with pytest.raises(ValueError, match=r"identity labels must be 0\.\.1 .* ranging 0\.\.5"):
        ReIDTrainer([(Path("a.png"), 0, 0), (Path("b.png"), 5, 1)], preset="tiny", out_dir=tmp_path)


def test_trainer_stagewise_shares_mda_modules_and_resumes(tmp_path):
    a = fake_reidset(tmp_path / "a", train_ids=4, test_ids=1)
    b = fake_reidset(tmp_path / "b", train_ids=3, test_ids=1)
    b.name = "b"
    items = merge_train([a, b])  # JSTL: 7 identities in one label space
    trainer = ReIDTrainer(items, preset="tiny", out_dir=tmp_path / "train", seed=0, progress=False)
    assert trainer.num_classes == 7
    full = trainer.hpnet()
    assert sorted(trainer.records) == ["mda1_to123", "mda2_to123", "mda3_to123", "mnet"]
    assert full.config.paths == ALL_PATHS and full.head.classifier.out_features == 7
    pruned = trainer.hpnet(MDA_ABLATIONS.get("prune_two"), save=False)
    assert sorted(trainer.records) == ["mda1_to123", "mda2_to123", "mda3_to123", "mnet"]  # nothing new trained
    for key, value in pruned.afnet.mdas["mda3"].state_dict().items():
        assert torch.equal(value, full.afnet.mdas["mda3"].state_dict()[key])
    trunk = pruned.backbone.state_dict()
    assert all(torch.equal(v, trunk[k]) for k, v in trainer.mnet().backbone.state_dict().items())
    trainer.hpnet(((1, 3),), save=False)  # a new direction set trains its own module
    assert "mda1_to3" in trainer.records and "mda2_to123" in trainer.records

    resumed = ReIDTrainer(items, preset="tiny", out_dir=tmp_path / "train", seed=0, resume=True, progress=False)
    mnet = resumed.mnet()
    assert resumed.records["mnet"] == trainer.records["mnet"]
    assert all(torch.equal(x, y) for x, y in zip(mnet.state_dict().values(), trainer.mnet().state_dict().values()))
    with pytest.raises(ValueError, match="cannot resume .* the training run differs"):
        ReIDTrainer(items, preset="tiny", out_dir=tmp_path / "train", seed=1, resume=True, progress=False)


def test_fc_feature_trains_the_fusion_head_on_cached_features(tmp_path):
    items = merge_train([fake_reidset(tmp_path / "a", train_ids=4, test_ids=1)])
    trainer = ReIDTrainer(items, preset=apply_overrides("tiny", {"feature": "fc", "holdout_per_id": 0}),
                          out_dir=tmp_path / "train", progress=False)
    assert trainer.stages_for(ALL_PATHS)[-1] == "fusion_full" and trainer.stages_for(None) == ["mnet"]
    torch.manual_seed(trainer.seed * 10000 + 9000)  # the head's initialisation before stage 3
    from hpnet.afnet import HydraPlusNet

    untrained = HydraPlusNet.from_mnet(trainer.mnet(), **trainer._hp_fields(ALL_PATHS)).head.classifier.weight
    hp = trainer.hpnet()
    record = trainer.records["fusion_full"]
    assert record.selection == "last_epoch" and len(record.history) == 1
    assert not torch.equal(hp.head.classifier.weight, untrained)
    saved = json.loads((tmp_path / "train" / "hpnet-full" / "config.json").read_text())
    assert "head_trained" in json.dumps(saved)


def test_extract_features_are_l2_normalised_and_flip_invariant_for_symmetric_images(tmp_path):
    torch.manual_seed(0)
    from hpnet import create_model

    model = create_model("mnet_bninception", num_classes=3, preset="tiny")
    store = ImageStore([p for p, _, _ in fake_reidset(tmp_path, train_ids=2, test_ids=1).query], (64, 32))
    store.images = torch.cat([store.images[:, :, :, :16], store.images[:, :, :, :16].flip(-1)], dim=-1)
    ds = ReIDImageDataset(store, mean=(0.5,) * 3, std=(0.25,) * 3)
    f = extract_features(model, ds, flip=True, batch_size=2)
    assert f.dtype == np.float32 and f.shape == (2, model.num_features)
    assert np.allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    assert np.allclose(f, extract_features(model, ds, flip=False), atol=1e-5)
    fc = extract_features(model, ds, feature="fc")
    assert fc.shape == (2, model.config.fc_dim)


# -------------------------------------------------------------------------------------------- runner
@pytest.fixture(scope="module")
def synthetic_home(tmp_path_factory):
    """A data home with synthetic_reid tiny rendered once for this module."""
    home = tmp_path_factory.mktemp("pa100k-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PA100K_HOME", str(home))
        from pa100k.reid import load_reid

        load_reid("synthetic_reid", preset="tiny", seed=0)
    return home


def test_run_reid_benchmark_writes_the_run_folder(synthetic_home, tmp_path, monkeypatch):
    from benchmarks.reid_runner import ReIDRunConfig, run_reid_benchmark
    from pa100k.reid import load_reid

    monkeypatch.setenv("PA100K_HOME", str(synthetic_home))
    out = run_reid_benchmark(ReIDRunConfig(methods="mnet,hpnet", data_preset="tiny", preset="tiny",
                                           out=str(tmp_path / "run"), progress=False, n_bootstrap=50,
                                           overrides={"repeats": 3}))
    for name in ("config.json", "metrics.json", "log.txt", "cmc.png", "ranked_list.png", "features.npz",
                 "training_curves.png", "methods/mnet/features.npz", "methods/hpnet/features.npz",
                 "train/mnet/config.json", "train/hpnet-full/config.json"):
        assert (out / name).is_file(), name
    rs = load_reid("synthetic_reid", preset="tiny", seed=0)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "reid" and metrics["dataset"] == "synthetic_reid"
    assert list(metrics["methods"]) == ["M-net", "HP-net"]
    for row in metrics["methods"].values():
        assert {"top1", "top5", "top10", "top20", "mAP", "mINP", "ci95", "cmc", "random_top1"} <= set(row)
        assert 0.0 <= row["top1"] <= row["top5"] <= row["top10"] <= row["top20"] <= 1.0
        assert row["ci95"]["top1"][0] <= row["top1"] <= row["ci95"]["top1"][1]
    config = json.loads((out / "config.json").read_text())
    assert config["run"]["methods"] == ["mnet", "hpnet"] and "environment" in config and "wall_seconds" in config
    assert config["train"]["num_train_ids"] == rs.num_train_pids
    with np.load(out / "features.npz", allow_pickle=False) as z:  # primary = the first method, M-net
        assert z["query_features"].shape == (len(rs.query), 128) and z["query_features"].dtype == np.float32
        assert z["gallery_features"].shape == (len(rs.gallery), 128)
        assert z["query_names"].tolist() == [p.name for p, _, _ in rs.query]
        assert z["gallery_names"].tolist() == [p.name for p, _, _ in rs.gallery]
    with np.load(out / "methods/hpnet/features.npz", allow_pickle=False) as z:
        assert z["query_features"].shape[1] == metrics["methods"]["HP-net"]["feature_dim"] > 128

    from benchmarks.report import build_report

    assert "| ours (synthetic_reid) | HP-net |" in build_report([out])


def test_run_reid_benchmark_rejects_unknown_methods_datasets_and_keys(synthetic_home, tmp_path, monkeypatch):
    from benchmarks.reid_runner import ReIDRunConfig, run_reid_benchmark

    monkeypatch.setenv("PA100K_HOME", str(synthetic_home))
    with pytest.raises(KeyError, match="valid names: hpnet, mnet"):
        run_reid_benchmark(ReIDRunConfig(methods="deepmar", out=str(tmp_path / "a")))
    with pytest.raises(KeyError, match="valid names: cuhk03, market1501, synthetic_reid, viper"):
        run_reid_benchmark(ReIDRunConfig(methods="mnet", dataset="market1501,duke", out=str(tmp_path / "b")))
    with pytest.raises(ValueError, match="override 'epochs' is not a ReID training setting"):
        run_reid_benchmark(ReIDRunConfig(methods="mnet", data_preset="tiny", preset="tiny", out=str(tmp_path / "c"),
                                         overrides={"epochs": 2}))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("")
    with pytest.raises(FileExistsError, match="not empty"):
        run_reid_benchmark(ReIDRunConfig(methods="mnet", out=str(tmp_path / "d")))


def test_jstl_run_trains_one_label_space_and_scores_each_dataset(synthetic_home, tmp_path, monkeypatch):
    from benchmarks.reid_runner import ReIDRunConfig, run_reid_benchmark
    from pa100k.reid import REID_DATASETS, load_reid

    monkeypatch.setenv("PA100K_HOME", str(synthetic_home))
    fake = fake_reidset(tmp_path / "fake", train_ids=4, test_ids=2)
    monkeypatch.setitem(REID_DATASETS._items, "fake", lambda root: fake)
    out = run_reid_benchmark(ReIDRunConfig(methods="mnet", dataset="synthetic_reid,fake", data_preset="tiny",
                                           preset="tiny", out=str(tmp_path / "run"), progress=False, n_bootstrap=20))
    synthetic = load_reid("synthetic_reid", preset="tiny", seed=0)
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["num_train_ids"] == synthetic.num_train_pids + fake.num_train_pids
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["jstl"] is True and list(metrics["methods"]) == ["M-net [synthetic_reid]", "M-net [fake]"]
    for name, rs in (("synthetic_reid", synthetic), ("fake", fake)):
        per = json.loads((out / "datasets" / name / "metrics.json").read_text())
        assert per["dataset"] == name and per["task"] == "reid" and list(per["methods"]) == ["M-net"]
        assert (out / f"cmc-{name}.png").is_file() and (out / f"ranked_list-{name}.png").is_file()
        with np.load(out / "methods" / "mnet" / f"features-{name}.npz") as z:
            assert z["query_features"].shape[0] == len(rs.query) and z["gallery_features"].shape[0] == len(rs.gallery)
    with np.load(out / "features.npz") as z:  # the first dataset's
        assert z["query_names"].tolist() == [p.name for p, _, _ in synthetic.query]
