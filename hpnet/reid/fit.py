"""Identity training through `hpnet.engine.fit`: the ``identity`` objective, P×K batches and `fit_identity`.

Models expose ``forward_features(x)`` and ``forward_head(features)``; datasets yield ``(input, label)``; the
loss is ``loss_fn(features, logits, labels)`` (`hpnet.reid.losses.IdentityLoss`). Checkpoints are selected on
the identity accuracy of held-out images of the training identities (never on the test query/gallery), or
the last epoch when there are none. Checkpoints, resumption, AMP, channels-last and DistributedDataParallel
are `hpnet.engine.fit`'s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hpnet import distributed
from hpnet.engine import OBJECTIVES, Objective, StepContext, TrainConfig, TrainResult, autocast, fit, resolve_device
from hpnet.reid.data import IdentityBatchSampler
from hpnet.reid.losses import IdentityLoss


@dataclass
class StageRecord:
    """One stage: wall time, per-epoch history, the selected epoch and how it was selected."""

    seconds: float
    history: list[dict[str, float]]
    best_epoch: int
    best_val_accuracy: float | None
    selection: str  # "val_accuracy" (held-out images of training identities) or "last_epoch"

    @classmethod
    def from_result(cls, result: TrainResult) -> StageRecord:
        """The record of an identity `fit` run."""
        score = result.best_score if result.metric == "val_accuracy" and math.isfinite(result.best_score) else None
        return cls(seconds=result.seconds, history=result.history, best_epoch=result.best_epoch,
                   best_val_accuracy=score, selection=result.metric)


# ------------------------------------------------------------------------------------------- objective
class FeaturesAndLogits(nn.Module):
    """``model``'s training forward pass as one ``forward``: ``(forward_features(x), forward_head(features))``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.forward_features(x)
        return features, self.model.forward_head(features)


def identity_step(net: nn.Module, batch: Any, ctx: StepContext) -> tuple[torch.Tensor, int, dict[str, float]]:
    """``loss_fn(features, logits, labels)`` of one ``(input, label)`` batch, with the number of correct top-1 guesses."""
    x, y = ctx.images(batch[0]), batch[1].to(ctx.device)
    with autocast(ctx.device, ctx.amp):
        features, logits = net(x)
    loss = ctx.loss_fn(features.float(), logits.float(), y)
    return loss, len(y), {"train_accuracy": int((logits.detach().argmax(1) == y).sum())}


@torch.no_grad()
def _correct_and_seen(model: nn.Module, loader: DataLoader, ctx: StepContext) -> tuple[int, int]:
    was_training = model.training
    model.eval()
    correct, seen = 0, 0
    for batch in loader:
        x, y = ctx.images(batch[0]), batch[1]
        with autocast(ctx.device, ctx.amp):
            logits = model.forward_head(model.forward_features(x))
        correct += int((logits.argmax(1).cpu() == y).sum())
        seen += len(y)
    model.train(was_training)
    return correct, seen


def identity_scores(model: nn.Module, loader: DataLoader, ctx: StepContext) -> dict[str, float]:
    """Top-1 identity accuracy on the val set (under a process group, of every rank's slice together)."""
    correct, seen = _correct_and_seen(model, loader, ctx)
    if distributed.is_initialized():
        correct, seen = distributed.all_reduce_sum([float(correct), float(seen)])
    if seen == 0:
        raise ValueError("identity accuracy: the validation dataset is empty")
    return {"val_accuracy": correct / seen}


IDENTITY = Objective(step=identity_step, evaluate=identity_scores, metric="val_accuracy", wrap=FeaturesAndLogits,
                     requires_val=False)
OBJECTIVES.add("identity", IDENTITY)


def identity_accuracy(model: nn.Module, dataset: Dataset, *, batch_size: int = 64, device: str | torch.device = "auto") -> float:
    """Top-1 identity-classification accuracy of ``model`` (``forward_features`` → ``forward_head``) on ``dataset``."""
    dev = resolve_device(device)
    model.to(dev)
    ctx = StepContext(loss_fn=IdentityLoss(), device=dev, amp=False, channels_last=False)
    correct, seen = _correct_and_seen(model, DataLoader(dataset, batch_size=batch_size, shuffle=False), ctx)
    if seen == 0:
        raise ValueError("identity_accuracy: the dataset is empty")
    return correct / seen


@dataclass(frozen=True)
class PKBatches:
    """P×K batches (`IdentityBatchSampler`, ``instances`` images per identity) for `hpnet.engine.fit`."""

    instances: int

    def __call__(self, dataset: Dataset, batch_size: int, num_batches: int, seed: int) -> IdentityBatchSampler:
        """The sampler over ``dataset.labels`` (one identity per item)."""
        labels = getattr(dataset, "labels", None)
        if labels is None:
            raise ValueError("P×K batches (instances_per_id) need train_dataset.labels, one identity per item; "
                             f"{type(dataset).__name__} has no labels")
        return IdentityBatchSampler(labels, batch_size, self.instances, num_batches=num_batches, seed=seed)


# -------------------------------------------------------------------------------------------------- fit
def fit_identity(
    model: nn.Module,
    train_dataset: Dataset,
    val_dataset: Dataset | None,
    *,
    loss_fn: IdentityLoss,
    config: TrainConfig,
    params: Sequence[nn.Parameter] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    desc: str = "train",
    instances_per_id: int | None = None,
) -> StageRecord:
    """Train ``model`` (``forward_features`` then ``forward_head``) with an identity loss on items ``(image, label)``.

    `hpnet.engine.fit` with the ``identity`` objective: selects the epoch with the best identity accuracy on
    ``val_dataset`` (held-out images of the training identities), or the last epoch when it is None or
    empty, and loads those weights into ``model``. ``params``: what to optimise (default: every parameter
    with ``requires_grad``). ``instances_per_id`` switches to P×K batches (``train_dataset.labels`` must
    exist). ``checkpoint_dir``/``resume``: `hpnet.engine.fit`'s ``last/`` and ``best/`` folders.
    """
    result = fit(model, train_dataset, val_dataset, loss_fn=loss_fn, config=config, params=params,
                 checkpoint_dir=checkpoint_dir, resume=resume, progress=progress, desc=desc, objective=IDENTITY,
                 batch_sampler=PKBatches(instances_per_id) if instances_per_id else None)
    return StageRecord.from_result(result)
