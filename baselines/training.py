"""Training glue of the learned baselines (ACN, DeepMar): recipe, datasets, `hpnet.engine.fit`, val/test scores.

The checkpoint is the epoch with the best val mA (`hpnet.engine.fit`); the test split is only scored.
Under torchrun the training is DistributedDataParallel (``batch_size`` per process, rank 0 writes the
checkpoints) and every process then scores val and test with the same, selected weights.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from baselines.common import BaselineResult, check_splits, timed
from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingRecipe:
    """Input size and optimisation settings shared by the learned baselines.

    ``cache_images`` keeps every image resized to ``input_size`` in memory as uint8 (decoded once, then
    flipped and normalised per item): right for the small sets of the cpu preset, not for PA-100K at
    256 x 192. ``max_steps_per_epoch`` caps the batches per epoch (the tiny preset). ``batch_size`` is per
    process under torchrun (global batch ``batch_size`` x world size).
    """

    input_size: tuple[int, int] = (256, 192)
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.01
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    momentum: float = 0.9
    scheduler: str = "cosine"
    warmup_epochs: float = 0.0
    grad_clip: float | None = None
    max_steps_per_epoch: int | None = None
    num_workers: int = 0
    cache_images: bool = False
    eval_batch_size: int = 128

    def train_config(self, *, seed: int = 0, device: str = "auto"):
        """The `hpnet.engine.TrainConfig` of this recipe."""
        from hpnet.engine import TrainConfig

        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, optimizer=self.optimizer,
                           weight_decay=self.weight_decay, momentum=self.momentum, scheduler=self.scheduler,
                           warmup_epochs=self.warmup_epochs, grad_clip=self.grad_clip,
                           max_steps_per_epoch=self.max_steps_per_epoch, num_workers=self.num_workers,
                           device=device, seed=seed, eval_batch_size=self.eval_batch_size)


def split_datasets(data: AttributeSet, size: Sequence[int], *, mean: Sequence[float], std: Sequence[float],
                   cache_images: bool, num_workers: int = 0, progress: bool = False) -> dict[str, object]:
    """``train`` (random horizontal flip), ``val`` and ``test`` datasets at ``size``, normalised by ``mean``/``std``."""
    from hpnet.data import CachedImageDataset, ImageCache, image_dataset

    out: dict[str, object] = {}
    for split in ("train", "val", "test"):
        train = split == "train"
        if cache_images:
            cache = ImageCache(data, split, size, num_workers=num_workers, progress=progress)
            out[split] = CachedImageDataset(cache, train=train, mean=mean, std=std)
        else:
            out[split] = image_dataset(data, split, size, train=train, mean=mean, std=std)
    return out


def train_and_score(
    model: nn.Module,
    data: AttributeSet,
    loss_fn: nn.Module,
    recipe: TrainingRecipe,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    input_size: Sequence[int] | None = None,
    seed: int = 0,
    device: str = "auto",
    work_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = False,
    desc: str = "train",
) -> BaselineResult:
    """Train ``model`` on ``data``'s train split with ``loss_fn``, keep the best val-mA epoch, score val and test.

    Checkpoints go to ``work_dir/checkpoints`` (``last/`` every epoch, ``best/model.safetensors``) when
    ``work_dir`` is given; ``resume`` continues from ``last/``.
    """
    from hpnet.engine import fit, predict_scores

    check_splits(data)
    size = tuple(input_size or recipe.input_size)
    timings: dict[str, float] = {}
    with timed(timings, "data"):
        sets = split_datasets(data, size, mean=mean, std=std, cache_images=recipe.cache_images,
                              num_workers=recipe.num_workers, progress=progress)
    ckpt = Path(work_dir) / "checkpoints" if work_dir is not None else None
    config = recipe.train_config(seed=seed, device=device)
    with timed(timings, "train"):
        result = fit(model, sets["train"], sets["val"], loss_fn=loss_fn, config=config, checkpoint_dir=ckpt,
                     resume=resume, progress=progress, desc=desc)
    with timed(timings, "predict"):
        scores = {s: predict_scores(model, sets[s], batch_size=recipe.eval_batch_size, device=device, score="prob",
                                    num_workers=recipe.num_workers) for s in ("val", "test")}
    history = [{"stage": desc, **record} for record in result.history]
    info = {"best_epoch": result.best_epoch, "best_val_mA": result.best_val_mA, "input_size": list(size),
            "parameters": int(sum(p.numel() for p in model.parameters()))}
    return BaselineResult(val_scores=scores["val"], test_scores=scores["test"], history=history, timings=timings,
                          info=info, checkpoint=ckpt / "best" if ckpt is not None else None)

