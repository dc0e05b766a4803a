"""`hpnet.engine.fit`'s objectives and batch samplers: identity training (ReID) through the attribute training loop."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from hpnet import engine
from hpnet.engine import OBJECTIVES, TrainConfig, fit
from hpnet.losses import WeightedBCELoss
from hpnet.reid.fit import IDENTITY, PKBatches, fit_identity, identity_accuracy
from hpnet.reid.losses import IdentityLoss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ToyReID(nn.Module):
    """forward_features / forward_head (with dropout, so resuming must restore the RNG) and no forward."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Linear(2, 8)
        self.bn = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.2)
        self.classifier = nn.Linear(8, classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.embed(x)))

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.drop(f))


def blobs(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    data = TensorDataset(centres[y] + 1.5 * torch.randn(n, 2, generator=g), y)
    data.labels = y.numpy()
    return data


def toy_reid() -> ToyReID:
    torch.manual_seed(0)
    return ToyReID()


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


CONFIG = TrainConfig(epochs=3, batch_size=12, lr=0.1, scheduler="cosine", device="cpu", seed=1)


def test_objective_registry_holds_attributes_and_identity_and_names_them_when_unknown():
    assert {"attributes", "identity"} <= set(OBJECTIVES.names())
    assert OBJECTIVES.get("identity") is IDENTITY and OBJECTIVES.get("attributes").metric == "val_mA"
    with pytest.raises(KeyError, match="attributes.*identity"):
        fit(toy_reid(), blobs(24, 0), blobs(6, 1), loss_fn=IdentityLoss(), config=CONFIG, progress=False,
            objective="contrastive")


def test_fit_selects_the_epoch_with_the_best_identity_accuracy(monkeypatch):
    scripted = iter([0.5, 0.9, 0.7])
    states = []

    def scripted_scores(model, loader, ctx):
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"val_accuracy": next(scripted)}

    model = toy_reid()
    result = fit(model, blobs(48, 0), blobs(12, 1), loss_fn=IdentityLoss(), config=CONFIG, progress=False,
                 objective=dataclasses.replace(IDENTITY, evaluate=scripted_scores))
    assert result.metric == "val_accuracy" and result.best_epoch == 2 and result.best_score == 0.9
    assert [h["val_accuracy"] for h in result.history] == [0.5, 0.9, 0.7]
    for key, value in model.state_dict().items():  # the second epoch's weights, not the last
        assert torch.equal(value, states[1][key]), key
    assert not all(torch.equal(states[1][k], states[2][k]) for k in states[1])


def test_identity_history_holds_train_accuracy_and_val_accuracy_of_the_returned_model():
    model = toy_reid()
    result = fit(model, blobs(60, 0), blobs(30, 1), loss_fn=IdentityLoss(), config=CONFIG, progress=False,
                 objective="identity")
    assert all(0.0 <= h["train_accuracy"] <= 1.0 for h in result.history)
    assert result.history[-1]["train_accuracy"] > 0.6
    assert result.best_score == identity_accuracy(model, blobs(30, 1), device="cpu") > 0.6
    with pytest.raises(AttributeError, match="selected on 'val_accuracy', not val mA; read best_score"):
        _ = result.best_val_mA


def test_fit_without_a_val_set_keeps_the_last_epoch_only_when_the_objective_allows_it():
    model = toy_reid()
    result = fit(model, blobs(48, 0), None, loss_fn=IdentityLoss(), config=CONFIG, progress=False,
                 objective="identity")
    assert result.metric == "last_epoch" and result.best_epoch == 3 and math.isnan(result.best_score)
    assert [h["val_accuracy"] for h in result.history] == [None, None, None]
    empty = TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))
    assert fit(toy_reid(), blobs(48, 0), empty, loss_fn=IdentityLoss(), config=CONFIG, progress=False,
               objective="identity").metric == "last_epoch"
    x = torch.randn(16, 2)
    attrs = TensorDataset(x, (x > 0).float(), torch.ones(16, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="validation dataset is empty"):
        fit(nn.Linear(2, 2), attrs, None, loss_fn=WeightedBCELoss([0.5, 0.5]), config=CONFIG, progress=False)


def test_pk_batch_sampler_gives_k_images_of_each_identity_in_every_batch(monkeypatch):
    seen_batches = []
    step = IDENTITY.step

    def recording_step(net, batch, ctx):
        seen_batches.append(batch[1].tolist())
        return step(net, batch, ctx)

    fit(toy_reid(), blobs(48, 0), None, loss_fn=IdentityLoss(triplet_weight=1.0), config=CONFIG, progress=False,
        objective=dataclasses.replace(IDENTITY, step=recording_step), batch_sampler=PKBatches(4))
    assert len(seen_batches) == 3 * (48 // 12)
    for labels in seen_batches:  # 12 = 3 identities × 4 images
        assert sorted(labels) == [0] * 4 + [1] * 4 + [2] * 4
    with pytest.raises(ValueError, match="need train_dataset.labels"):
        fit(toy_reid(), TensorDataset(torch.zeros(24, 2), torch.arange(24) % 3), None, loss_fn=IdentityLoss(),
            config=CONFIG, progress=False, objective="identity", batch_sampler=PKBatches(4))


@pytest.mark.parametrize("with_val", [True, False])
def test_resumed_identity_run_equals_an_uninterrupted_one(tmp_path, monkeypatch, with_val):
    val = blobs(15, 1) if with_val else None
    loss = IdentityLoss(triplet_weight=1.0)
    reference = toy_reid()
    ref = fit_identity(reference, blobs(48, 0), val, loss_fn=loss, config=CONFIG, progress=False, instances_per_id=4)

    class Interrupted(Exception):
        pass

    original = engine._save_checkpoint
    calls = []

    def save_then_stop(*args, **kwargs):
        original(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted

    monkeypatch.setattr(engine, "_save_checkpoint", save_then_stop)
    with pytest.raises(Interrupted):
        fit_identity(toy_reid(), blobs(48, 0), val, loss_fn=loss, config=CONFIG, checkpoint_dir=tmp_path,
                     progress=False, instances_per_id=4)
    monkeypatch.setattr(engine, "_save_checkpoint", original)
    torch.manual_seed(123)  # the resumed run must not depend on the global RNG it starts with
    resumed_model = ToyReID()
    resumed = fit_identity(resumed_model, blobs(48, 0), val, loss_fn=loss, config=CONFIG, checkpoint_dir=tmp_path,
                           resume=True, progress=False, instances_per_id=4)
    assert without_seconds(resumed.history) == without_seconds(ref.history)
    assert (resumed.best_epoch, resumed.selection, resumed.best_val_accuracy) == \
        (ref.best_epoch, ref.selection, ref.best_val_accuracy)
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[key], value), key


def test_resume_refuses_a_checkpoint_selected_on_another_metric(tmp_path):
    fit(toy_reid(), blobs(24, 0), None, loss_fn=IdentityLoss(), config=CONFIG, checkpoint_dir=tmp_path,
        progress=False, objective="identity")
    with pytest.raises(ValueError, match="selected on 'last_epoch', this run on 'val_accuracy'"):
        fit(toy_reid(), blobs(24, 0), blobs(6, 1), loss_fn=IdentityLoss(), config=CONFIG, checkpoint_dir=tmp_path,
            resume=True, progress=False, objective="identity")


def test_attribute_checkpoints_written_before_objectives_still_resume(tmp_path):
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    data = TensorDataset(x, (x[:, :2] > 0).float(), torch.ones(40, 2, dtype=torch.bool))
    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.05, device="cpu")
    loss = WeightedBCELoss([0.5, 0.5])
    first = fit(nn.Linear(4, 2), data, data, loss_fn=loss, config=cfg, checkpoint_dir=tmp_path, progress=False)
    meta_path = tmp_path / "last" / "training_state.json"
    meta = json.loads(meta_path.read_text())
    meta["best_val_mA"] = meta.pop("best_score")  # the key before objectives existed
    del meta["metric"]
    meta_path.write_text(json.dumps(meta))
    again = fit(nn.Linear(4, 2), data, data, loss_fn=loss, config=cfg, checkpoint_dir=tmp_path, resume=True,
                progress=False)
    assert again.best_val_mA == first.best_val_mA and again.best_epoch == first.best_epoch
