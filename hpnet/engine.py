"""The training engine: `fit` (seeded, resumable, checkpoint selection on a val metric) and `predict_scores`.

Used by HP-net's stage-wise training, by the baselines (DeepMar, ACN), by the benchmark runner and, with the
``identity`` objective of `hpnet.reid.fit`, by ReID identity training. An `Objective` says how a batch becomes
a loss and which val metric selects the epoch; the default, ``attributes``, reads datasets that yield
``(image, labels float (A,), mask bool (A,))`` (extra items, e.g. metadata, are ignored), takes the model's
forward as logits ``(B, A)``, ``loss_fn(logits, labels, mask)`` as the loss and selects on val mA.

Under ``torchrun`` (a process group from `hpnet.distributed.init_from_env`) `fit` trains with
DistributedDataParallel: each process reads its own shard of the training set per epoch (a seeded
DistributedSampler), gradients are averaged across processes, every process validates its contiguous
slice of the val set and the slices are gathered so all ranks compute the same val metric and pick the
same epoch, and rank 0 alone writes checkpoints (in the single-process format). ``predict_scores`` is not
distributed: each process that calls it scores the whole dataset.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler

from hpnet import distributed
from hpnet.checkpoint import load_safetensors, save_safetensors
from pa100k.registry import Registry

logger = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------------------------------- config
@dataclass
class TrainConfig:
    """Hyper-parameters of one training run.

    ``amp``/``channels_last``: None means on when training on CUDA, off on CPU. ``scheduler`` is applied per
    step: linear warm-up over ``warmup_epochs`` then ``cosine`` (to 0), ``step`` (times ``gamma`` every
    ``step_size`` epochs, default a third of the run) or ``none``. ``max_steps_per_epoch`` caps the number of
    training batches per epoch (for smoke tests); ``frozen_bn_eval`` keeps batch-norm layers whose
    parameters are not optimised in eval mode, so their running statistics stay untouched.

    Under torchrun (DistributedDataParallel) ``batch_size`` is per process, so the global batch is
    ``batch_size`` × world size; ``lr`` is not rescaled, and ``max_steps_per_epoch`` and the schedule count
    per-process steps (an epoch is one pass over the training set shared by all processes).
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    momentum: float = 0.9
    scheduler: str = "cosine"
    warmup_epochs: float = 0.0
    num_workers: int = 0
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool | None = None
    seed: int = 0
    grad_clip: float | None = None
    step_size: int | None = None
    gamma: float = 0.1
    max_steps_per_epoch: int | None = None
    eval_batch_size: int | None = None
    frozen_bn_eval: bool = True

    # Fields that may change between a run and its resumption without changing the result.
    RESUME_IGNORED = ("num_workers", "device", "eval_batch_size")

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"TrainConfig.epochs must be >= 1, found {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"TrainConfig.batch_size must be >= 1, found {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, found {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {', '.join(OPTIMIZERS.names())}, found {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"TrainConfig.scheduler must be one of {', '.join(SCHEDULERS.names())}, found {self.scheduler!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"TrainConfig.device must be 'auto', 'cpu' or 'cuda', found {self.device!r}")
        if self.warmup_epochs < 0:
            raise ValueError(f"TrainConfig.warmup_epochs must be >= 0, found {self.warmup_epochs}")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"TrainConfig.max_steps_per_epoch must be >= 1 or None, found {self.max_steps_per_epoch}")

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict, rejecting unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown fields {unknown}; valid: {sorted(known)}")
        return cls(**data)


@dataclass
class TrainResult:
    """What `fit` returns: per-epoch history, the selected epoch and its weights (already loaded into the model).

    ``metric`` is the history key that selected ``best_epoch`` (``val_mA`` for attributes) and ``best_score``
    its value there; ``metric == "last_epoch"`` (``best_score`` NaN) when there was no val set.
    """

    history: list[dict[str, float]]
    best_epoch: int
    best_score: float
    best_state: dict[str, torch.Tensor]
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    metric: str = "val_mA"

    @property
    def best_val_mA(self) -> float:
        """The selected epoch's val mA (runs that select on val mA only)."""
        if self.metric != "val_mA":
            raise AttributeError(f"this run selected on {self.metric!r}, not val mA; read best_score")
        return self.best_score


# ------------------------------------------------------------------------------------ optimizers, schedules
OPTIMIZERS: Registry[Callable[[Sequence[nn.Parameter], TrainConfig], torch.optim.Optimizer]] = Registry("optimizer")
SCHEDULERS: Registry[Callable[[float, TrainConfig, int], float]] = Registry("scheduler")


def _decay_groups(params: Iterable[nn.Parameter], weight_decay: float) -> list[dict[str, Any]]:
    """Two groups: weights with decay, biases and norm scales (1-D) without."""
    decay, no_decay = [], []
    for p in params:
        (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


@OPTIMIZERS.register("sgd")
def _sgd(params: Sequence[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(_decay_groups(params, cfg.weight_decay), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)


@OPTIMIZERS.register("adamw")
def _adamw(params: Sequence[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(_decay_groups(params, cfg.weight_decay), lr=cfg.lr)


@SCHEDULERS.register("cosine")
def _cosine(progress: float, cfg: TrainConfig, epoch: int) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


@SCHEDULERS.register("step")
def _step(progress: float, cfg: TrainConfig, epoch: int) -> float:
    step_size = cfg.step_size or max(1, cfg.epochs // 3)
    return cfg.gamma ** (epoch // step_size)


@SCHEDULERS.register("none")
def _constant(progress: float, cfg: TrainConfig, epoch: int) -> float:
    return 1.0


def lr_factor(step: int, steps_per_epoch: int, cfg: TrainConfig) -> float:
    """Multiplier of the base learning rate at global ``step`` (linear warm-up, then the named schedule)."""
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    total = max(cfg.epochs * steps_per_epoch - warmup, 1)
    progress = (step - warmup) / total
    return SCHEDULERS.get(cfg.scheduler)(progress, cfg, step // max(steps_per_epoch, 1))


# ---------------------------------------------------------------------------------------------- helpers
def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                   scheduler: Any, params: Sequence[nn.Parameter], grad_clip: float | None) -> None:
    """One update: backward through the (AMP) scaler, optional gradient-norm clipping, optimizer and schedule step."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if grad_clip:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU raises."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _unpack(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(images, labels, mask) from a collated batch (a tuple/list, or a dict with those keys)."""
    if isinstance(batch, dict):
        return batch["image"], batch["labels"], batch.get("mask")
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        mask = batch[2] if len(batch) >= 3 and isinstance(batch[2], torch.Tensor) else None
        return batch[0], batch[1], mask
    raise ValueError(f"a batch must be (image, labels, mask[, ...]) or a dict, found {type(batch).__name__}")


def _collate_of(dataset: Dataset) -> Callable | None:
    """The dataset's own ``collate_fn``, looking through `Subset` wrappers."""
    while isinstance(dataset, Subset) and getattr(dataset, "collate_fn", None) is None:
        dataset = dataset.dataset
    return getattr(dataset, "collate_fn", None)


def _loader(dataset: Dataset, batch_size: int, *, shuffle: bool, num_workers: int, seed: int = 0,
            drop_last: bool = False, sampler: torch.utils.data.Sampler | None = None, pin_memory: bool = False,
            persistent: bool = False, batch_sampler: torch.utils.data.Sampler | None = None) -> DataLoader:
    """A DataLoader whose shuffling and worker seeds come from ``seed``.

    ``persistent`` keeps the worker processes alive between passes (for a loader iterated every epoch);
    ``pin_memory`` is for CUDA training. A ``sampler`` (DistributedSampler) replaces ``shuffle``; a
    ``batch_sampler`` (P×K identity batches) replaces ``batch_size``, ``shuffle`` and ``drop_last``.
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    kwargs: dict[str, Any] = {}
    collate = _collate_of(dataset)
    if collate is not None:
        kwargs["collate_fn"] = collate
    if num_workers > 0:
        kwargs["persistent_workers"] = persistent
    if batch_sampler is not None:
        return DataLoader(dataset, batch_sampler=batch_sampler, num_workers=num_workers, generator=generator,
                          pin_memory=pin_memory, **kwargs)
    if sampler is not None:
        kwargs["sampler"] = sampler
        shuffle = False
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      generator=generator, drop_last=drop_last, pin_memory=pin_memory, **kwargs)


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """Mixed precision: float16 on CUDA, bfloat16 elsewhere, when ``enabled``."""
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=enabled)


def mean_accuracy(labels: np.ndarray, logits: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Label-based mean accuracy (Li et al. 2016) of logits thresholded at 0, through ``pa100k.metrics`` when present."""
    try:
        from pa100k.metrics import attribute_metrics
    except ImportError:  # pragma: no cover - pa100k.metrics is written by another module
        attribute_metrics = None
    if attribute_metrics is not None:
        import warnings

        from pa100k.metrics import UndefinedMetricWarning

        with warnings.catch_warnings():  # instance-metric warnings (empty label sets) do not concern mA
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            return float(attribute_metrics(labels, logits, mask=mask, score_type="logit").mA)
    known = np.ones(labels.shape, dtype=bool) if mask is None else mask.astype(bool)
    y = labels.astype(bool)
    pred = logits >= 0
    pos = (y & known).sum(0)
    neg = (~y & known).sum(0)
    tp = (pred & y & known).sum(0)
    tn = (~pred & ~y & known).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = 0.5 * (tp / np.where(pos > 0, pos, np.nan) + tn / np.where(neg > 0, neg, np.nan))
    return float(np.nanmean(per)) if np.isfinite(per).any() else float("nan")


def _set_train_mode(model: nn.Module, optimised: set[int], frozen_bn_eval: bool) -> None:
    model.train()
    if not frozen_bn_eval:
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            own = list(module.parameters(recurse=False))
            if own and not any(id(p) in optimised for p in own):
                module.eval()


@torch.no_grad()
def _evaluate(model: nn.Module, loader: DataLoader, loss_fn: LossFn | None, device: torch.device,
              amp: bool, channels_last: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Logits, labels, masks and mean loss on ``loader``; under a process group, of every rank's loader together.

    Each rank evaluates its own slice and the slices are all-gathered in rank order, so every rank returns
    the same arrays (those of the whole dataset when the slices are contiguous and in order).
    """
    logits, labels, masks, loss_sum, count = _evaluate_local(model, loader, loss_fn, device, amp, channels_last)
    if distributed.is_initialized():
        parts = distributed.all_gather_object((logits, labels, masks, loss_sum, count))
        parts = [p for p in parts if p[4] > 0]
        if not parts:
            raise ValueError("the evaluation dataset is empty")
        logits, labels, masks = (np.concatenate([p[k] for p in parts]) for k in range(3))
        loss_sum, count = sum(p[3] for p in parts), sum(p[4] for p in parts)
    elif count == 0:
        raise ValueError("the evaluation dataset is empty")
    return logits, labels, masks, loss_sum / max(count, 1)


@torch.no_grad()
def _evaluate_local(model: nn.Module, loader: DataLoader, loss_fn: LossFn | None, device: torch.device,
                    amp: bool, channels_last: bool) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None,
                                                              float, int]:
    """This process's logits, labels, masks (None when its loader is empty), summed loss and item count."""
    model.eval()
    all_logits, all_labels, all_masks = [], [], []
    total_loss, count = 0.0, 0
    for batch in loader:
        images, labels, mask = _unpack(batch)
        images = images.to(device, non_blocking=True)
        if channels_last and images.ndim == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        labels = labels.to(device).float()
        mask = torch.ones_like(labels, dtype=torch.bool) if mask is None else mask.to(device).bool()
        with autocast(device, amp):
            logits = model(images)
        logits = logits.float()
        if loss_fn is not None:
            total_loss += float(loss_fn(logits, labels, mask)) * len(images)
        count += len(images)
        all_logits.append(logits.cpu().numpy())
        all_labels.append(labels.cpu().numpy())
        all_masks.append(mask.cpu().numpy())
    if not all_logits:
        return None, None, None, 0.0, 0
    return (np.concatenate(all_logits).astype(np.float32), np.concatenate(all_labels),
            np.concatenate(all_masks), total_loss, count)


# ------------------------------------------------------------------------------------------- objectives
@dataclass(frozen=True)
class StepContext:
    """What a training step or a validation pass needs besides the model and the data."""

    loss_fn: Callable[..., torch.Tensor]
    device: torch.device
    amp: bool
    channels_last: bool

    def images(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` on the device, channels-last when that is on and they are (B, C, H, W)."""
        images = images.to(self.device, non_blocking=True)
        if self.channels_last and images.ndim == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return images


StepFn = Callable[[nn.Module, Any, StepContext], tuple[torch.Tensor, int, dict[str, float]]]
ScoreFn = Callable[[nn.Module, DataLoader, StepContext], dict[str, float]]


def _same_module(model: nn.Module) -> nn.Module:
    return model


@dataclass(frozen=True)
class Objective:
    """How `fit` turns a batch into a loss and an epoch into val metrics, and which metric selects the epoch.

    ``step(net, batch, ctx)`` → (loss, batch size, per-batch sums such as ``{"train_accuracy": correct}``,
    which `fit` divides by the items seen in the epoch); ``net`` is ``wrap(model)``, inside
    DistributedDataParallel under torchrun, so its ``forward`` must do the whole training forward pass.
    ``evaluate(model, loader, ctx)`` → the val metrics of the whole val set (under a process group, on
    every rank); ``metric`` names the one that selects (higher is better). ``requires_val``: False lets
    `fit` run without a val set, keeping the last epoch.
    """

    step: StepFn
    evaluate: ScoreFn
    metric: str
    wrap: Callable[[nn.Module], nn.Module] = _same_module
    requires_val: bool = True


class BatchSamplerFactory(Protocol):
    """`fit`'s ``batch_sampler``: ``(dataset, batch_size, num_batches, seed)`` → a batch sampler.

    The sampler yields ``num_batches`` lists of indices per epoch and has ``set_epoch(epoch)``; under
    torchrun every rank gets its own ``seed``.
    """

    def __call__(self, dataset: Dataset, batch_size: int, num_batches: int, seed: int) -> torch.utils.data.Sampler:
        """A batch sampler over ``dataset``."""


def attribute_step(net: nn.Module, batch: Any, ctx: StepContext) -> tuple[torch.Tensor, int, dict[str, float]]:
    """Multi-label step: ``loss_fn(net(images), labels, mask)`` on ``(image, labels, mask)`` batches."""
    images, labels, mask = _unpack(batch)
    images = ctx.images(images)
    labels = labels.to(ctx.device, non_blocking=True).float()
    mask = (torch.ones_like(labels, dtype=torch.bool) if mask is None
            else mask.to(ctx.device, non_blocking=True).bool())
    with autocast(ctx.device, ctx.amp):
        logits = net(images)
    return ctx.loss_fn(logits.float(), labels, mask), len(images), {}


def attribute_scores(model: nn.Module, loader: DataLoader, ctx: StepContext) -> dict[str, float]:
    """Val loss and label-based mean accuracy (mA) of the whole val set."""
    logits, labels, mask, val_loss = _evaluate(model, loader, ctx.loss_fn, ctx.device, ctx.amp, ctx.channels_last)
    return {"val_loss": val_loss, "val_mA": mean_accuracy(labels, logits, mask)}


OBJECTIVES: Registry[Objective] = Registry("objective")
OBJECTIVES.add("attributes", Objective(step=attribute_step, evaluate=attribute_scores, metric="val_mA"))


# ------------------------------------------------------------------------------------------ checkpoints
def _state_dict_cpu(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _optimizer_to_tensors(opt_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into safetensors tensors and a JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, slots in opt_state["state"].items():
        for name, value in slots.items():
            key = f"{pid}.{name}"
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    return tensors, {"param_groups": opt_state["param_groups"], "scalars": scalars}


def _optimizer_from_tensors(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith("optimizer."):
            continue
        pid, name = key[len("optimizer."):].split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    for key, value in meta["scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _save_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: torch.optim.lr_scheduler.LambdaLR, scaler: torch.amp.GradScaler,
                     config: TrainConfig, epoch: int, history: list[dict], best_epoch: int, best_score: float,
                     metric: str = "val_mA") -> None:
    """Write ``folder`` (model.safetensors, training_state.safetensors, training_state.json) via a sibling temp dir."""
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_safetensors(_state_dict_cpu(model), tmp / "model.safetensors")
    tensors, opt_meta = _optimizer_to_tensors(optimizer.state_dict())
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    save_safetensors(tensors, tmp / "training_state.safetensors")
    np_state = np.random.get_state()
    meta = {
        "format": "hpnet.engine/1",
        "epoch": epoch,
        "config": config.to_dict(),
        "optimizer": opt_meta,
        "scheduler": {k: (v if k != "lr_lambdas" else [None] * len(v)) for k, v in scheduler.state_dict().items()},
        "scaler": scaler.state_dict(),
        "history": history,
        "best_epoch": best_epoch,
        "metric": metric,
        "best_score": best_score,
        "rng": {
            "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
            "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        },
    }
    with open(tmp / "training_state.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
        fh.flush()
        os.fsync(fh.fileno())
    old = folder.with_name(folder.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    if old.exists():
        shutil.rmtree(old)


def _check_resume_config(stored: dict[str, Any], config: TrainConfig, where: Path) -> None:
    current = config.to_dict()
    diffs = [
        f"{k}: stored {stored.get(k)!r}, now {current.get(k)!r}"
        for k in sorted(set(stored) | set(current))
        if k not in TrainConfig.RESUME_IGNORED and stored.get(k) != current.get(k)
    ]
    if diffs:
        raise ValueError(f"cannot resume from {where}: the training config differs ({'; '.join(diffs)})")


def _load_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: torch.optim.lr_scheduler.LambdaLR, scaler: torch.amp.GradScaler,
                     config: TrainConfig, metric: str = "val_mA") -> dict[str, Any]:
    """Restore ``folder`` into the model, optimizer, schedule, scaler and RNGs; returns its training_state.json."""
    meta_path = folder / "training_state.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"cannot resume: {meta_path} is missing")
    with open(meta_path, encoding="utf-8") as fh:
        meta = json.load(fh)
    _check_resume_config(meta["config"], config, folder)
    if "best_val_mA" in meta:  # written before objectives: attribute runs selected on val mA
        meta.setdefault("metric", "val_mA")
        meta.setdefault("best_score", meta["best_val_mA"])
    if meta["metric"] != metric:
        raise ValueError(f"cannot resume from {folder}: it selected on {meta['metric']!r}, this run on {metric!r}")
    from hpnet.checkpoint import load_state_dict_into

    load_state_dict_into(model, load_safetensors(folder / "model.safetensors"), source=folder / "model.safetensors")
    tensors = load_safetensors(folder / "training_state.safetensors")
    optimizer.load_state_dict(_optimizer_from_tensors(tensors, meta["optimizer"]))
    sched_state = dict(meta["scheduler"])
    scheduler.load_state_dict(sched_state)
    if meta.get("scaler"):
        scaler.load_state_dict(meta["scaler"])
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)
    py = meta["rng"]["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    npst = meta["rng"]["numpy"]
    np.random.set_state((npst[0], np.asarray(npst[1], dtype=np.uint32), npst[2], npst[3], npst[4]))
    return meta


# -------------------------------------------------------------------------------------------------- fit
def fit(
    model: nn.Module,
    train_dataset: Dataset,
    val_dataset: Dataset | None,
    *,
    loss_fn: Callable[..., torch.Tensor],
    config: TrainConfig,
    params: Iterable[nn.Parameter] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    desc: str = "train",
    find_unused_parameters: bool | None = None,
    objective: str | Objective = "attributes",
    batch_sampler: BatchSamplerFactory | None = None,
) -> TrainResult:
    """Train ``model`` on ``train_dataset``, validate each epoch on ``val_dataset`` and keep the best epoch.

    ``objective`` (an `OBJECTIVES` name or an `Objective`) says how a batch becomes a loss and which val
    metric selects the epoch: ``attributes`` (default) is ``loss_fn(model(images), labels, mask)`` selected
    on val mA. An objective with ``requires_val=False`` accepts ``val_dataset`` None or empty and keeps the
    last epoch. ``batch_sampler`` (a `BatchSamplerFactory`, e.g. P×K identity batches) replaces the
    shuffled batches; it is built once with the steps per epoch and set to each epoch.

    ``params`` are the parameters to optimise (default: those with ``requires_grad``). With ``checkpoint_dir``
    the state after every epoch is written to ``checkpoint_dir/last`` and the best weights to
    ``checkpoint_dir/best/model.safetensors``; ``resume=True`` continues from ``last`` (the stored config
    must equal ``config`` up to ``num_workers``/``device``/``eval_batch_size``). The best weights are loaded
    into ``model`` before returning.

    Under a process group (torchrun) the model is wrapped in DistributedDataParallel for the training
    steps; parameters outside ``params`` are excluded from it for the run (``requires_grad`` off, restored
    afterwards), so a frozen trunk (stage 2 of HP-net) needs no special care. ``find_unused_parameters``:
    None finds out with one forward/backward pass on two val items whether some optimised parameter gets
    no gradient, and enables DDP's search only then. Each rank then draws its augmentation from a seed of
    (seed, epoch, rank), so a resumed DDP run replays the same epochs; a ``batch_sampler`` gets a seed of
    (seed, rank) and draws ``len(train_dataset) / world size / batch_size`` batches per rank. Batch-norm
    statistics, which each rank updates on its own shard, are replaced by rank 0's after every epoch, so
    all ranks hold identical weights. Rank 0 writes the checkpoints (unwrapped, same format as a single
    process); every rank reads them on resume, which assumes one machine or a shared filesystem.
    """
    from tqdm.auto import tqdm

    start_time = time.perf_counter()
    obj = OBJECTIVES.get(objective) if isinstance(objective, str) else objective
    device = resolve_device(config.device)
    amp = device.type == "cuda" if config.amp is None else bool(config.amp)
    channels_last = device.type == "cuda" if config.channels_last is None else bool(config.channels_last)
    ctx = StepContext(loss_fn=loss_fn, device=device, amp=amp, channels_last=channels_last)
    if len(train_dataset) == 0:
        raise ValueError("fit: the training dataset is empty")
    has_val = val_dataset is not None and len(val_dataset) > 0
    if not has_val and obj.requires_val:
        raise ValueError("fit: the validation dataset is empty")
    metric = obj.metric if has_val else "last_epoch"
    ddp = distributed.is_initialized()
    rank, world, main = distributed.rank(), distributed.world_size(), distributed.is_main()
    pin_memory = device.type == "cuda"
    seed_everything(config.seed)

    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    param_list = [p for p in (model.parameters() if params is None else params) if p.requires_grad]
    if not param_list:
        raise ValueError("fit: no parameter to optimise (all have requires_grad=False)")
    optimised = {id(p) for p in param_list}
    optimizer = OPTIMIZERS.get(config.optimizer)(param_list, config)

    train_sampler = (DistributedSampler(train_dataset, num_replicas=world, rank=rank, shuffle=True, seed=config.seed)
                     if ddp and batch_sampler is None else None)
    per_rank = len(train_sampler) if train_sampler is not None else math.ceil(len(train_dataset) / world)
    drop_last = per_rank > config.batch_size
    steps_per_epoch = per_rank // config.batch_size if drop_last else math.ceil(per_rank / config.batch_size)
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    batches = None
    if batch_sampler is not None:
        batches = batch_sampler(train_dataset, config.batch_size, steps_per_epoch,
                                _rank_seed(config.seed, 0, rank) if ddp else config.seed)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, steps_per_epoch, config))
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    val_loader = None
    if has_val:
        val_part = Subset(val_dataset, _shard(len(val_dataset), rank, world)) if ddp else val_dataset
        val_loader = _loader(val_part, config.eval_batch_size or max(config.batch_size, 64), shuffle=False,
                             num_workers=config.num_workers if len(val_part) else 0, pin_memory=pin_memory,
                             persistent=True)

    history: list[dict[str, float]] = []
    best_epoch, best_score = -1, float("-inf")
    best_state: dict[str, torch.Tensor] | None = None
    start_epoch = 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume:
        if ckpt is None:
            raise ValueError("fit: resume=True needs a checkpoint_dir")
        last = ckpt / "last"
        if not last.exists() and (ckpt / "last.old").exists():
            last = ckpt / "last.old"
        if last.exists():
            meta = _load_checkpoint(last, model, optimizer, scheduler, scaler, config, metric)
            start_epoch = int(meta["epoch"]) + 1
            history = list(meta["history"])
            best_epoch, best_score = int(meta["best_epoch"]), float(meta["best_score"])
            best_file = ckpt / "best" / "model.safetensors"
            if best_epoch >= 0 and best_file.is_file():
                best_state = load_safetensors(best_file)
            logger.info("%s: resumed from %s at epoch %d", desc, last, start_epoch)
        else:
            logger.info("%s: no checkpoint in %s, starting from scratch", desc, ckpt)

    train_net = obj.wrap(model)
    net, excluded = train_net, []
    if ddp:
        # parameters that are not optimised stay out of DDP's gradient reduction
        excluded = [p for p in model.parameters() if p.requires_grad and id(p) not in optimised]
        for p in excluded:
            p.requires_grad_(False)
    try:
        if ddp:
            net = _wrap_ddp(train_net, val_dataset if has_val else train_dataset, device, channels_last,
                            find_unused_parameters, desc)
        for epoch in range(start_epoch, config.epochs):
            t0 = time.perf_counter()
            epoch_sampler = batches if batches is not None else train_sampler
            if epoch_sampler is not None:
                epoch_sampler.set_epoch(epoch)
            if ddp:
                loader_seed = _rank_seed(config.seed, epoch, rank)
                seed_everything(loader_seed)
            else:
                loader_seed = config.seed * 100003 + epoch
            train_loader = _loader(train_dataset, config.batch_size, shuffle=True, num_workers=config.num_workers,
                                   seed=loader_seed, drop_last=drop_last, sampler=train_sampler,
                                   pin_memory=pin_memory, batch_sampler=batches)
            _set_train_mode(net, optimised, config.frozen_bn_eval)
            running, seen = 0.0, 0
            sums: dict[str, float] = {}
            bar = tqdm(total=steps_per_epoch, desc=f"{desc} {epoch + 1}/{config.epochs}",
                       disable=not progress or not main, leave=False)
            for step, batch in enumerate(train_loader):
                if step >= steps_per_epoch:
                    break
                loss, n, batch_sums = obj.step(net, batch, ctx)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"{desc}: non-finite loss {float(loss)} at epoch {epoch + 1}, step {step}")
                optimizer_step(loss, optimizer, scaler, scheduler, param_list, config.grad_clip)
                running += float(loss.detach()) * n
                seen += n
                for key, value in batch_sums.items():
                    sums[key] = sums.get(key, 0.0) + value
                bar.update(1)
                bar.set_postfix(loss=f"{running / seen:.4f}", **{k: f"{v / seen:.3f}" for k, v in sums.items()})
            bar.close()
            if ddp:
                distributed.broadcast_buffers(model)  # each rank's batch-norm statistics saw only its shard
                running, seen, *summed = distributed.all_reduce_sum([running, float(seen), *sums.values()])
                sums = dict(zip(sums, summed))
            scores = obj.evaluate(model, val_loader, ctx) if val_loader is not None else {obj.metric: None}
            record = {"epoch": epoch + 1, "train_loss": running / max(seen, 1),
                      **{k: v / max(seen, 1) for k, v in sums.items()}, **scores,
                      "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
            history.append(record)
            logger.info("%s epoch %d/%d: %s (%.1fs)", desc, epoch + 1, config.epochs,
                        " ".join(f"{k} {v:.4f}" for k, v in record.items()
                                 if k not in ("epoch", "lr", "seconds") and v is not None), record["seconds"])
            score = scores[obj.metric]
            if best_state is None or score is None or (math.isfinite(score) and score > best_score):
                best_epoch, best_score = epoch + 1, (math.nan if score is None else score)
                best_state = _state_dict_cpu(model)
                if ckpt is not None and main:
                    save_safetensors(best_state, ckpt / "best" / "model.safetensors")
            if ckpt is not None and main:
                _save_checkpoint(ckpt / "last", model, optimizer, scheduler, scaler, config, epoch, history,
                                 best_epoch, best_score, metric)
    finally:
        for p in excluded:
            p.requires_grad_(True)
    distributed.barrier()  # rank 0's checkpoint files are complete before any rank goes on

    if best_state is None:  # resumed after the last epoch with no best file: keep the current weights
        best_state = _state_dict_cpu(model)
    model.load_state_dict(best_state)
    return TrainResult(history=history, best_epoch=best_epoch, best_score=best_score, best_state=best_state,
                       seconds=time.perf_counter() - start_time, extra={"world_size": world}, metric=metric)


def _shard(n: int, rank: int, world: int) -> list[int]:
    """The contiguous slice of ``range(n)`` that ``rank`` of ``world`` evaluates; in rank order they cover it once."""
    return list(range(n * rank // world, n * (rank + 1) // world))


def _rank_seed(seed: int, epoch: int, rank: int) -> int:
    """A seed for (seed, epoch, rank): every rank augments differently, and a resumed epoch draws as before."""
    return int(np.random.SeedSequence([seed & (2**64 - 1), epoch, rank]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _wrap_ddp(model: nn.Module, probe_dataset: Dataset, device: torch.device, channels_last: bool,
              find_unused_parameters: bool | None, desc: str) -> nn.Module:
    """``model`` in DistributedDataParallel; ``find_unused_parameters=None`` is decided by `_unused_parameters`."""
    from torch.nn.parallel import DistributedDataParallel

    if find_unused_parameters is None:
        unused = _unused_parameters(model, probe_dataset, device, channels_last)
        # every rank must make the same choice
        find_unused_parameters = distributed.all_reduce_sum([float(bool(unused))])[0] > 0
        if unused:
            logger.info("%s: %d trainable parameters get no gradient (%s ...); DDP searches for unused parameters",
                        desc, len(unused), ", ".join(unused[:3]))
    device_ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=find_unused_parameters)


def _unused_parameters(model: nn.Module, dataset: Dataset, device: torch.device, channels_last: bool) -> list[str]:
    """Trainable parameters (names) without a gradient from one eval-mode forward pass on two ``dataset`` items.

    ``model`` returns a tensor or a tuple of tensors (features and logits): the gradient is that of their sum.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    batch = next(iter(_loader(Subset(dataset, list(range(min(2, len(dataset))))), 2, shuffle=False, num_workers=0)))
    images = _unpack(batch)[0].to(device)
    if channels_last and images.ndim == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    was_training = model.training
    model.eval()  # batch-norm statistics untouched, no dropout draw
    try:
        out = model(images)
        outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if o.requires_grad]
        if not outs:
            return [n for n, _ in named]
        grads = torch.autograd.grad(sum(o.float().sum() for o in outs), [p for _, p in named], allow_unused=True)
    finally:
        model.train(was_training)
    return [n for (n, _), g in zip(named, grads) if g is None]


# ------------------------------------------------------------------------------------------- prediction
SCORES: Registry[Callable[[torch.Tensor], torch.Tensor]] = Registry("score")
SCORES.add("prob", torch.sigmoid)
SCORES.add("logit", lambda x: x)


@torch.no_grad()
def predict_scores(model: nn.Module, dataset: Dataset, *, batch_size: int = 64, device: str = "auto",
                   score: str = "prob", num_workers: int = 0, progress: bool = False) -> np.ndarray:
    """Scores ``(N, A)`` float32 of ``model`` on ``dataset`` in dataset order (``score``: ``prob`` or ``logit``)."""
    from tqdm.auto import tqdm

    transform = SCORES.get(score)
    dev = resolve_device(device)
    model.to(dev)
    was_training = model.training
    model.eval()
    out = []
    loader = _loader(dataset, batch_size, shuffle=False, num_workers=num_workers, pin_memory=dev.type == "cuda")
    for batch in tqdm(loader, desc="predict", disable=not progress, leave=False):
        images = _unpack(batch)[0] if not isinstance(batch, torch.Tensor) else batch
        logits = model(images.to(dev, non_blocking=True)).float()
        out.append(transform(logits).cpu().numpy())
    model.train(was_training)
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def clone_config(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of ``config`` with ``changes`` applied (validated)."""
    data = copy.deepcopy(config.to_dict())
    data.update(changes)
    return TrainConfig.from_dict(data)
