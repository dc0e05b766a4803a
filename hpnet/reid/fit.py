"""The identity-training loop (`fit_identity`): seeded, tqdm progress, resumable per epoch, checkpoint selection on
held-out images of the training identities (never on the test query/gallery).

Models expose ``forward_features(x)`` and ``forward_head(features)``; datasets yield ``(input, label)``. It
reuses `hpnet.engine`'s optimizers, schedules and TrainConfig; `hpnet.engine.fit` itself selects on
validation mA of attribute logits, which identity classification has no use for.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hpnet.checkpoint import load_safetensors, save_safetensors
from hpnet.engine import OPTIMIZERS, TrainConfig, lr_factor, optimizer_step, resolve_device, seed_everything
from hpnet.reid.data import IdentityBatchSampler
from hpnet.reid.losses import IdentityLoss
from pa100k.fileio import atomic_path

logger = logging.getLogger(__name__)


@dataclass
class StageRecord:
    """One stage: wall time, per-epoch history, the selected epoch and how it was selected."""

    seconds: float
    history: list[dict[str, float]]
    best_epoch: int
    best_val_accuracy: float | None
    selection: str  # "val_accuracy" (held-out images of training identities) or "last_epoch"


def _train_mode(model: nn.Module, optimised: set[int], frozen_bn_eval: bool) -> None:
    """Train mode, except batch-norm layers none of whose parameters are optimised (their statistics stay fixed)."""
    model.train()
    if not frozen_bn_eval:
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            own = list(module.parameters(recurse=False))
            if own and not any(id(p) in optimised for p in own):
                module.eval()


def autocast(device: torch.device, enabled: bool):
    """Mixed precision on CUDA (float16); bfloat16 autocast elsewhere when ``enabled``."""
    return torch.autocast(device_type=device.type, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16,
                          enabled=enabled)


@torch.no_grad()
def identity_accuracy(model: nn.Module, dataset: Dataset, *, batch_size: int = 64, device: str | torch.device = "auto") -> float:
    """Top-1 identity-classification accuracy of ``model`` (``forward_features`` → ``forward_head``) on ``dataset``."""
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    correct, seen = 0, 0
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        logits = model.forward_head(model.forward_features(x.to(dev)))
        correct += int((logits.argmax(1).cpu() == y).sum())
        seen += len(y)
    model.train(was_training)
    if seen == 0:
        raise ValueError("identity_accuracy: the dataset is empty")
    return correct / seen


def _resume_key(config: TrainConfig) -> str:
    return json.dumps({k: v for k, v in config.to_dict().items() if k not in TrainConfig.RESUME_IGNORED}, sort_keys=True)


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

    Selects the epoch with the best identity accuracy on ``val_dataset`` (held-out images of the training
    identities), or the last epoch when it is None or empty, and loads those weights into ``model``.
    ``params``: what to optimise (default: every parameter with ``requires_grad``). ``instances_per_id``
    switches to P×K batches (``train_dataset.labels`` must exist). With ``checkpoint_dir`` the state after
    each epoch goes to ``last.pt`` and the selected weights to ``best.safetensors``; ``resume`` continues
    from ``last.pt`` (the stored TrainConfig must match, up to device/num_workers/eval_batch_size).
    """
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    if len(train_dataset) == 0:
        raise ValueError(f"{desc}: the training set is empty")
    use_val = val_dataset is not None and len(val_dataset) > 0
    device = resolve_device(config.device)
    amp = device.type == "cuda" if config.amp is None else bool(config.amp)
    seed_everything(config.seed)
    model.to(device)
    param_list = [p for p in (model.parameters() if params is None else params) if p.requires_grad]
    if not param_list:
        raise ValueError(f"{desc}: no parameter to optimise (all have requires_grad=False)")
    optimised = {id(p) for p in param_list}
    optimizer = OPTIMIZERS.get(config.optimizer)(param_list, config)
    drop_last = len(train_dataset) > config.batch_size
    steps = len(train_dataset) // config.batch_size if drop_last else math.ceil(len(train_dataset) / config.batch_size)
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, steps, config))
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    sampler = None
    if instances_per_id:
        if not hasattr(train_dataset, "labels"):
            raise ValueError(f"{desc}: P×K batches (instances_per_id) need train_dataset.labels, one identity per item")
        sampler = IdentityBatchSampler(train_dataset.labels, config.batch_size, instances_per_id, num_batches=steps,
                                       seed=config.seed)

    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    history: list[dict[str, float]] = []
    best_epoch, best_acc, best_state, start = -1, -math.inf, None, 0
    if resume and ckpt is not None and (ckpt / "last.pt").is_file():
        saved = torch.load(ckpt / "last.pt", map_location="cpu", weights_only=True)
        if saved["config"] != _resume_key(config):
            raise ValueError(f"cannot resume from {ckpt / 'last.pt'}: the training config differs "
                             f"(stored {saved['config']}, now {_resume_key(config)})")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng"])
        history, start = json.loads(saved["history"]), int(saved["epoch"])
        best_epoch, best_acc = int(saved["best_epoch"]), float(saved["best_acc"])
        if (ckpt / "best.safetensors").is_file():
            best_state = load_safetensors(ckpt / "best.safetensors")
        logger.info("%s: resumed from %s after epoch %d", desc, ckpt / "last.pt", start)

    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        if sampler is not None:
            sampler.epoch = epoch
            loader = DataLoader(train_dataset, batch_sampler=sampler, num_workers=config.num_workers)
        else:
            generator = torch.Generator()
            generator.manual_seed(config.seed * 100003 + epoch)
            loader = DataLoader(train_dataset, batch_size=config.batch_size, shuffle=True, drop_last=drop_last,
                                generator=generator, num_workers=config.num_workers)
        _train_mode(model, optimised, config.frozen_bn_eval)
        running, correct, seen = 0.0, 0, 0
        bar = tqdm(total=steps, desc=f"{desc} {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for step, (x, y) in enumerate(loader):
            if step >= steps:
                break
            x, y = x.to(device, non_blocking=True), y.to(device)
            with autocast(device, amp):
                features = model.forward_features(x)
                logits = model.forward_head(features)
            loss = loss_fn(features.float(), logits.float(), y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{desc}: non-finite loss {float(loss)} at epoch {epoch + 1}, step {step}")
            optimizer_step(loss, optimizer, scaler, scheduler, param_list, config.grad_clip)
            running += float(loss.detach()) * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
            bar.update(1)
            bar.set_postfix(loss=f"{running / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        val_acc = identity_accuracy(model, val_dataset, batch_size=config.eval_batch_size or max(config.batch_size, 64),
                                    device=device) if use_val else None
        record = {"epoch": epoch + 1, "train_loss": running / max(seen, 1), "train_accuracy": correct / max(seen, 1),
                  "val_accuracy": val_acc, "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
        history.append(record)
        logger.info("%s epoch %d/%d: loss %.4f train acc %.4f%s (%.1f s)", desc, epoch + 1, config.epochs,
                    record["train_loss"], record["train_accuracy"],
                    "" if val_acc is None else f" val acc {val_acc:.4f}", record["seconds"])
        if val_acc is None or val_acc > best_acc or best_state is None:
            best_epoch, best_acc = epoch + 1, (val_acc if val_acc is not None else -math.inf)
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            if ckpt is not None:
                save_safetensors(best_state, ckpt / "best.safetensors")
        if ckpt is not None:
            _save_last(ckpt / "last.pt", model, optimizer, scheduler, scaler, config, epoch + 1, history, best_epoch, best_acc)

    if best_state is not None:
        model.load_state_dict(best_state)
    return StageRecord(seconds=time.perf_counter() - t_start, history=history, best_epoch=best_epoch,
                       best_val_accuracy=best_acc if use_val and math.isfinite(best_acc) else None,
                       selection="val_accuracy" if use_val else "last_epoch")


def _save_last(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
               config: TrainConfig, epoch: int, history: list[dict], best_epoch: int, best_acc: float) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "scaler": scaler.state_dict(), "rng": torch.get_rng_state(), "config": _resume_key(config),
             "epoch": epoch, "history": json.dumps(history), "best_epoch": best_epoch, "best_acc": best_acc}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
