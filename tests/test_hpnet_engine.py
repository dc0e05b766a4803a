"""The training engine (fit, resume, predict_scores, schedules) and the weighted sigmoid cross-entropy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from hpnet import engine
from hpnet.engine import TrainConfig, fit, lr_factor, predict_scores
from hpnet.losses import WeightedBCELoss, positive_ratio_from

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------------------------- loss
def test_weighted_loss_equals_a_hand_computed_value():
    ratio = [0.2, 0.7]
    loss_fn = WeightedBCELoss(ratio)
    logits = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])

    def sig(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-x))

    # positives weigh exp(1 - p_j), negatives exp(p_j); mean over the 4 known entries
    by_hand = (
        math.exp(1 - 0.2) * -math.log(sig(1.0))
        + math.exp(0.7) * -math.log(1 - sig(-2.0))
        + math.exp(0.2) * -math.log(1 - sig(0.5))
        + math.exp(1 - 0.7) * -math.log(sig(3.0))
    ) / 4
    assert float(loss_fn(logits, targets)) == pytest.approx(by_hand, rel=1e-6)
    mask = torch.tensor([[True, False], [True, True]])
    by_hand_masked = (
        math.exp(1 - 0.2) * -math.log(sig(1.0))
        + math.exp(0.2) * -math.log(1 - sig(0.5))
        + math.exp(1 - 0.7) * -math.log(sig(3.0))
    ) / 3
    assert float(loss_fn(logits, targets, mask)) == pytest.approx(by_hand_masked, rel=1e-6)


def test_masked_labels_contribute_nothing_to_loss_or_gradient():
    loss_fn = WeightedBCELoss([0.5, 0.1, 0.9])
    logits = torch.randn(4, 3, requires_grad=True)
    targets = torch.randint(0, 2, (4, 3)).float()
    mask = torch.ones(4, 3, dtype=torch.bool)
    mask[1, 2] = mask[3, 0] = False
    loss = loss_fn(logits, targets, mask)
    loss.backward()
    assert logits.grad[1, 2] == 0 and logits.grad[3, 0] == 0
    changed = logits.detach().clone()
    changed[1, 2] += 100.0
    flipped = targets.clone()
    flipped[3, 0] = 1 - flipped[3, 0]
    assert float(loss_fn(changed, flipped, mask)) == pytest.approx(float(loss.detach()))
    assert float(loss_fn(logits.detach(), targets, torch.zeros(4, 3, dtype=torch.bool))) == 0.0


@pytest.mark.parametrize("ratio", [[], [0.5, 1.5], [[0.1, 0.2]], [float("nan")]])
def test_weighted_loss_rejects_bad_positive_ratios(ratio):
    with pytest.raises(ValueError, match="positive_ratio"):
        WeightedBCELoss(ratio)


def test_weighted_loss_rejects_mismatched_shapes():
    loss_fn = WeightedBCELoss([0.5, 0.5])
    with pytest.raises(ValueError, match="positive_ratio has 2"):
        loss_fn(torch.zeros(3, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="same shape"):
        loss_fn(torch.zeros(3, 2), torch.zeros(2, 2))


def test_positive_ratio_comes_from_the_training_split_only():
    from pa100k.attribute_set import AttributeSet
    from pa100k.schemas import AttributeSchema

    labels = np.array([[1, 0], [1, 1], [0, 0], [0, 1], [0, 1], [0, 1]], dtype=np.uint8)
    mask = np.ones_like(labels, dtype=bool)
    mask[2, 1] = False
    aset = AttributeSet(AttributeSchema("toy", ("a", "b")), [f"{i}.jpg" for i in range(6)], [b""] * 6, labels,
                        {"train": np.array([0, 1, 2]), "val": np.array([3]), "test": np.array([4, 5])}, mask=mask)
    np.testing.assert_allclose(positive_ratio_from(aset), [2 / 3, 1 / 2])


# ----------------------------------------------------------------------------------------------- engine
def _toy_data(n: int = 160, seed: int = 0) -> TensorDataset:
    x = torch.randn(n, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    w = torch.randn(48, 4, generator=torch.Generator().manual_seed(1234))  # one labelling rule for every split
    y = (x.flatten(1) @ w > 0).float()
    return TensorDataset(x, y, torch.ones_like(y, dtype=torch.bool))


def _toy_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(48, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 4))


def _loss(ds: TensorDataset) -> WeightedBCELoss:
    return WeightedBCELoss(ds.tensors[1].mean(0).numpy())


def test_fit_learns_and_keeps_the_best_val_epoch():
    train, val = _toy_data(320, 0), _toy_data(64, 1)
    model = _toy_model()
    result = fit(model, train, val, loss_fn=_loss(train), config=TrainConfig(epochs=5, batch_size=32, lr=0.1), progress=False)
    mas = [h["val_mA"] for h in result.history]
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]
    assert result.best_val_mA == max(mas) and result.best_epoch == 1 + mas.index(max(mas))
    assert result.best_val_mA > 0.75 > mas[0]
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, result.best_state[key])
    assert set(result.history[0]) >= {"epoch", "train_loss", "val_loss", "val_mA", "seconds"}


def test_fit_trains_only_the_given_parameters_and_keeps_frozen_batch_norm_statistics():
    train, val = _toy_data(64, 0), _toy_data(32, 1)
    model = _toy_model()
    model[1].requires_grad_(False)
    model[2].requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit(model, train, val, loss_fn=_loss(train), config=TrainConfig(epochs=2, batch_size=16, lr=0.1), progress=False)
    after = model.state_dict()
    for key in ("1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var"):
        assert torch.equal(before[key], after[key]), key
    assert not torch.equal(before["5.weight"], after["5.weight"])


def test_fit_resumed_after_an_interruption_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    train, val = _toy_data(96, 0), _toy_data(32, 1)
    config = TrainConfig(epochs=3, batch_size=16, lr=0.05, warmup_epochs=0.5)
    reference = _toy_model()
    ref = fit(reference, train, val, loss_fn=_loss(train), config=config, progress=False)

    class Interrupted(Exception):
        pass

    original = engine._save_checkpoint
    calls = {"n": 0}

    def save_then_stop(*args, **kwargs):
        original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise Interrupted

    monkeypatch.setattr(engine, "_save_checkpoint", save_then_stop)
    with pytest.raises(Interrupted):
        fit(_toy_model(), train, val, loss_fn=_loss(train), config=config, checkpoint_dir=tmp_path, progress=False)
    monkeypatch.setattr(engine, "_save_checkpoint", original)
    assert (tmp_path / "last" / "training_state.safetensors").is_file()
    assert (tmp_path / "last" / "model.safetensors").is_file()
    resumed_model = _toy_model()
    resumed = fit(resumed_model, train, val, loss_fn=_loss(train), config=config, checkpoint_dir=tmp_path,
                  resume=True, progress=False)
    assert [h["val_mA"] for h in resumed.history] == [h["val_mA"] for h in ref.history]
    np.testing.assert_array_equal(predict_scores(resumed_model, val), predict_scores(reference, val))


def test_resume_refuses_a_changed_config(tmp_path):
    train, val = _toy_data(32, 0), _toy_data(16, 1)
    fit(_toy_model(), train, val, loss_fn=_loss(train), config=TrainConfig(epochs=1, batch_size=16, lr=0.05),
        checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"lr: stored 0.05, now 0.1"):
        fit(_toy_model(), train, val, loss_fn=_loss(train), config=TrainConfig(epochs=1, batch_size=16, lr=0.1),
            checkpoint_dir=tmp_path, resume=True, progress=False)


def test_predict_scores_keeps_dataset_order_and_score_kind():
    data = _toy_data(10, 3)
    model = _toy_model().eval()
    probs = predict_scores(model, data, batch_size=3)
    logits = predict_scores(model, data, batch_size=4, score="logit")
    with torch.no_grad():
        expected = model(data.tensors[0]).numpy()
    assert probs.dtype == np.float32 and probs.shape == (10, 4)
    np.testing.assert_allclose(logits, expected, atol=1e-6)
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-expected)), atol=1e-6)
    with pytest.raises(KeyError, match="logit, prob"):
        predict_scores(model, data, score="label")


@pytest.mark.parametrize("field, value, match", [
    ("optimizer", "adam", "adamw, sgd"), ("scheduler", "linear", "cosine"), ("epochs", 0, "epochs"),
    ("device", "tpu", "device"), ("lr", 0.0, "lr"),
])
def test_train_config_rejects_bad_values_naming_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


def test_learning_rate_schedules():
    cfg = TrainConfig(epochs=4, warmup_epochs=1, scheduler="cosine")
    assert lr_factor(0, 10, cfg) == pytest.approx(0.1)
    assert lr_factor(9, 10, cfg) == pytest.approx(1.0)
    assert lr_factor(10, 10, cfg) == pytest.approx(1.0)
    assert lr_factor(25, 10, cfg) == pytest.approx(0.5)
    step = TrainConfig(epochs=6, scheduler="step", step_size=2, gamma=0.1)
    assert [lr_factor(e * 10, 10, step) for e in range(6)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert lr_factor(37, 10, TrainConfig(scheduler="none")) == 1.0


def test_adamw_and_step_schedule_train_too():
    train, val = _toy_data(64, 0), _toy_data(32, 1)
    res = fit(_toy_model(), train, val, loss_fn=_loss(train), progress=False,
              config=TrainConfig(epochs=2, batch_size=16, lr=1e-2, optimizer="adamw", scheduler="step", grad_clip=1.0))
    assert len(res.history) == 2 and all(np.isfinite(h["train_loss"]) for h in res.history)
