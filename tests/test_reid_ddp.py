"""Identity training (`hpnet.reid.fit.fit_identity`, P×K batches) under a two-process gloo group, as in test_ddp."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from hpnet import distributed
from hpnet.checkpoint import load_safetensors
from hpnet.engine import TrainConfig, fit
from hpnet.reid.fit import IDENTITY, PKBatches, fit_identity, identity_accuracy
from hpnet.reid.losses import IdentityLoss


class _ToyReID(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(2, 8)
        self.bn = nn.BatchNorm1d(8)
        self.classifier = nn.Linear(8, 3)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.embed(x)))

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.classifier(f)


def _blobs(n: int, seed: int) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    data = torch.utils.data.TensorDataset(centres[y] + 1.5 * torch.randn(n, 2, generator=g), y)
    data.labels = y.numpy()
    return data


def _worker(rank: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    assert distributed.init_from_env("cpu")
    train, val = _blobs(96, 0), _blobs(31, 1)  # 31 val items: uneven slices of 15 and 16
    config = TrainConfig(epochs=3, batch_size=12, lr=0.1, device="cpu", seed=2)
    torch.manual_seed(rank)  # different initialisations: DDP starts every rank from rank 0's weights
    model = _ToyReID()
    rec = fit_identity(model, train, val, loss_fn=IdentityLoss(triplet_weight=1.0), config=config,
                       checkpoint_dir=Path(folder) / "ck", progress=False, instances_per_id=4)

    batches: list[list[int]] = []

    def recording_step(net, batch, ctx):
        batches.append(sorted(batch[0][:, 0].tolist()))
        return IDENTITY.step(net, batch, ctx)

    torch.manual_seed(0)
    fit(_ToyReID(), train, None, loss_fn=IdentityLoss(), config=dataclasses.replace(config, epochs=1),
        progress=False, objective=dataclasses.replace(IDENTITY, step=recording_step), batch_sampler=PKBatches(4))
    torch.save({"state": model.state_dict(), "history": rec.history, "best_epoch": rec.best_epoch,
                "best": rec.best_val_accuracy, "full_accuracy": identity_accuracy(model, val, device="cpu"),
                "batches": batches}, Path(folder) / f"rank{rank}.pt")
    distributed.cleanup()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, run_two_ranks):
    folder = tmp_path_factory.mktemp("ddp-reid")
    return folder, run_two_ranks(_worker, folder)


def test_ddp_identity_fit_leaves_identical_weights_equal_to_rank0_checkpoint(fitted):
    folder, (r0, r1) = fitted
    for key in r0["state"]:
        assert torch.equal(r0["state"][key], r1["state"][key]), key
    saved = load_safetensors(folder / "ck" / "best" / "model.safetensors")
    assert saved.keys() == r0["state"].keys()  # the model's own keys: no "module." or "model." prefix
    for key, value in saved.items():
        assert torch.equal(value, r0["state"][key]), key


def test_ddp_identity_accuracy_covers_the_whole_val_set_and_agrees_across_ranks(fitted):
    _, (r0, r1) = fitted
    assert r0["history"] and [h["val_accuracy"] for h in r0["history"]] == [h["val_accuracy"] for h in r1["history"]]
    assert [h["train_accuracy"] for h in r0["history"]] == [h["train_accuracy"] for h in r1["history"]]
    assert r0["best_epoch"] == r1["best_epoch"]
    assert r0["best"] == pytest.approx(r0["full_accuracy"], abs=1e-12)  # on all 31 val items


def test_ddp_pk_batches_differ_across_ranks_and_split_the_epoch(fitted):
    _, (r0, r1) = fitted
    assert len(r0["batches"]) == len(r1["batches"]) == 96 // 2 // 12  # each rank draws its share of the steps
    assert r0["batches"] != r1["batches"]
