"""Stage-wise HP-net training (§3.2) on an `AttributeSet`, with named presets (`paper`, `half`, `cpu`, `tiny`).

1. ``mnet``: train M-net.
2. ``mda1``/``mda2``/``mda3``: build the AF-net from M-net; for each MDA module 𝓕(αⁱ) separately, train its
   attention layer and, in each direction k, its copy of the blocks after k (plus a temporary head on its
   features, discarded afterwards: a fresh linear layer, or M-net's head spread over the module's feature
   sets with ``mda_head_init="mnet"``). M-net's trunk stays frozen (eval mode, no gradient).
3. ``fusion``: freeze M-net and AF-net, cache their pooled features for the train and val splits once, and
   train the final FC on them.

``end_to_end=True`` replaces stages 2 and 3 by one run that trains the whole HP-net from M-net. Every stage
selects its checkpoint on the val split (never test), is seeded, shows tqdm progress, and resumes from
``out_dir/checkpoints/<stage>/last``; completed stages are recorded in ``out_dir/train_state.json`` and
skipped on resume. Loss: `WeightedBCELoss` with positive ratios from the training split only.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from hpnet.afnet import HydraPlusNet
from hpnet.checkpoint import config_to_dict
from hpnet.config import PRESETS, HPNetConfig
from hpnet.engine import TrainConfig, TrainResult, clone_config, fit, predict_scores, resolve_device
from hpnet.losses import WeightedBCELoss, positive_ratio_from
from hpnet.mnet import ClassifierHead, MNet
from pa100k.attribute_set import AttributeSet
from pa100k.fileio import atomic_write
from pa100k.registry import Registry

logger = logging.getLogger(__name__)

STATE_FILE = "train_state.json"


# ------------------------------------------------------------------------------------------------ presets
@dataclass(frozen=True)
class TrainPreset:
    """A model preset (`hpnet.config.PRESETS`) with the schedule of every stage.

    ``cache_images`` keeps the resized images in memory (fine for the synthetic sets, not for 100k images at
    224×224). ``augment_pad`` > 0 adds pad-and-random-crop to the random flip of training images.
    ``feature_batch_size`` is the batch size used to cache features and predict. ``fusion_init`` ``"mnet"``
    starts the fusion FC as M-net's classifier (M-net's weights on the pooled F³, zeros on the attentive
    features), so HP-net starts from M-net's predictions and val selection may keep that start (epoch 0);
    ``"random"`` starts it fresh. ``fusion_dropout`` drops that fraction of the cached features while the fusion
    FC trains (the trunk has seen the training images, so their cached features are cleaner than val's).
    """

    name: str
    model_preset: str
    mnet: TrainConfig
    mda: TrainConfig
    fusion: TrainConfig
    end_to_end: TrainConfig
    cache_images: bool = False
    augment_pad: int = 0
    feature_batch_size: int = 64
    fusion_init: str = "mnet"
    fusion_dropout: float = 0.0
    mda_head_init: str = "random"
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.fusion_dropout, bool) or not isinstance(self.fusion_dropout, (int, float)) \
                or not 0.0 <= self.fusion_dropout < 1.0:
            raise ValueError(f"TrainPreset.fusion_dropout must be in [0, 1), found {self.fusion_dropout!r}")
        if isinstance(self.augment_pad, bool) or not isinstance(self.augment_pad, int) or self.augment_pad < 0:
            raise ValueError(f"TrainPreset.augment_pad must be an integer >= 0 (pixels), found {self.augment_pad!r}")
        for name in ("fusion_init", "mda_head_init"):
            if getattr(self, name) not in HEAD_INITS:
                raise ValueError(f"TrainPreset.{name} must be one of {HEAD_INITS}, found {getattr(self, name)!r}")

    def stage_config(self, stage: str) -> TrainConfig:
        """The TrainConfig of ``stage`` (``mnet``, ``mda``, ``fusion``, ``end_to_end``)."""
        if stage not in STAGE_KINDS:
            raise ValueError(f"unknown stage {stage!r}; valid: {', '.join(STAGE_KINDS)}")
        return getattr(self, stage)


STAGE_KINDS = ("mnet", "mda", "fusion", "end_to_end")
HEAD_INITS = ("mnet", "random")
TRAIN_PRESETS: Registry[TrainPreset] = Registry("training preset")


def _sgd(epochs: int, lr: float, batch: int, **kw: Any) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=batch, lr=lr, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                       scheduler="cosine", **kw)


TRAIN_PRESETS.add("paper", TrainPreset(
    "paper", "paper",
    mnet=_sgd(30, 0.01, 32, warmup_epochs=1),
    mda=_sgd(10, 0.005, 32, warmup_epochs=0.5),
    fusion=TrainConfig(epochs=20, batch_size=256, lr=1e-3, optimizer="adamw", weight_decay=1e-2, scheduler="cosine"),
    end_to_end=_sgd(20, 0.005, 32, warmup_epochs=1),
    description="full-width BN-Inception at 224×224 (needs a GPU)",
))
TRAIN_PRESETS.add("half", replace(TRAIN_PRESETS.get("paper"), name="half", model_preset="half",
                                  description="the official prototxt's half-width BN-Inception at 224×224 (GPU)"))
# On CPU, channels-last convolutions train 25-35 % faster (benchmarks/perf/train_throughput.py).
TRAIN_PRESETS.add("cpu", TrainPreset(
    "cpu", "cpu",
    # M-net from scratch at quarter width, synthetic small, same seed (val/test mA): SGD 0.05 × 6 epochs
    # 0.584/0.578; AdamW 1e-3 × 6 0.614/0.623; AdamW 3e-3 × 6 0.665/0.680; AdamW 3e-3 × 10 0.723/0.727
    # (6e-3 × 10: 0.721/0.722; 1.2e-2 × 6: 0.596/0.597). The paper preset keeps the paper's SGD.
    mnet=TrainConfig(epochs=10, batch_size=32, lr=3e-3, optimizer="adamw", weight_decay=1e-4, scheduler="cosine",
                     warmup_epochs=0.5, channels_last=True),
    mda=_sgd(2, 0.01, 32, max_steps_per_epoch=60, channels_last=True),  # fine-tuning from M-net: 120 steps per module
    fusion=TrainConfig(epochs=12, batch_size=128, lr=1e-3, optimizer="adamw", weight_decay=5e-2, scheduler="cosine"),
    end_to_end=_sgd(2, 0.01, 32, channels_last=True),
    # MDA modules with a fresh linear head reach val mA 0.66-0.67 in their 120 steps, below M-net's 0.72; started
    # from M-net's head they start at its level and end at 0.721-0.724 (the fusion FC then reaches 0.726 val).
    mda_head_init="mnet",
    fusion_dropout=0.5,
    cache_images=True,
    description="width 0.25, 128×64, L = 4: the whole stage-wise run on the synthetic small set in ~6 min on 2 cores",
))
TRAIN_PRESETS.add("tiny", TrainPreset(
    "tiny", "tiny",
    mnet=_sgd(1, 0.05, 8, max_steps_per_epoch=3),
    mda=_sgd(1, 0.01, 8, max_steps_per_epoch=2),
    fusion=TrainConfig(epochs=1, batch_size=16, lr=1e-3, optimizer="adamw", weight_decay=1e-2, scheduler="none",
                       max_steps_per_epoch=3),
    end_to_end=_sgd(1, 0.01, 8, max_steps_per_epoch=2),
    cache_images=True,
    feature_batch_size=16,
    description="width 0.125, 64×32, L = 2, one epoch of a few batches: for tests (seconds)",
))


# ------------------------------------------------------------------------------------------------- data
class _Data:
    """Train (augmented), train (plain), val and test datasets for one model input convention."""

    def __init__(self, attribute_set: AttributeSet, config: Any, *, cache: bool, num_workers: int, progress: bool,
                 pad: int = 0) -> None:
        self.attribute_set = attribute_set
        self.pad = pad
        self.size = tuple(config.input_size)
        self.mean, self.std = tuple(config.mean), tuple(config.std)
        self.cache = cache
        self.num_workers = num_workers
        self.progress = progress
        self._caches: dict[str, Any] = {}

    def dataset(self, split: str, *, train: bool = False) -> Dataset:
        """Images of ``split``; ``train`` adds the training augmentation (random horizontal flip)."""
        if self.cache:
            from hpnet.data import CachedImageDataset, ImageCache

            if split not in self._caches:
                self._caches[split] = ImageCache(self.attribute_set, split, self.size, num_workers=self.num_workers,
                                                 progress=self.progress)
            return CachedImageDataset(self._caches[split], train=train, mean=self.mean, std=self.std, pad=self.pad)
        from hpnet.data import image_dataset

        return image_dataset(self.attribute_set, split, self.size, train=train, mean=self.mean, std=self.std,
                             pad=self.pad if train else 0)


def _check_splits(attribute_set: AttributeSet) -> None:
    missing = [s for s in ("train", "val") if s not in attribute_set.splits or len(attribute_set.splits[s]) == 0]
    if missing:
        raise ValueError(
            f"{attribute_set.dataset or 'AttributeSet'}: stage-wise training needs non-empty 'train' and 'val' splits "
            f"(val selects checkpoints; test is never used for that); missing or empty: {missing}"
        )


# ---------------------------------------------------------------------------------------- stage modules
class MDAStage(nn.Module):
    """Stage 2 for one MDA module: frozen trunk (no gradient) → 𝓕(αⁱ) → temporary head → logits.

    With ``mnet`` given, the temporary head is M-net's head with its first layer's weight split evenly over the
    module's L·|directions| pooled feature sets: each starts close to M-net's pooled F³ (the branches are
    copies of M-net's blocks and α starts near 1), so the module starts close to M-net's predictions and the
    attention learns to improve on them. Without ``mnet`` the head is a fresh linear layer.
    """

    def __init__(self, hpnet: HydraPlusNet, level: int, dropout: float = 0.0, mnet: MNet | None = None) -> None:
        super().__init__()
        key = f"mda{level}"
        if key not in hpnet.afnet.mdas:
            raise ValueError(f"MDAStage: the HP-net has no MDA module for block {level}; it has {list(hpnet.afnet.mdas)}")
        self.backbone = hpnet.backbone
        self.mda = hpnet.afnet.mdas[key]
        if mnet is None:
            self.head = ClassifierHead(self.mda.out_features, hpnet.config.num_classes, hidden=None, dropout=dropout)
        else:
            self.head = ClassifierHead(self.mda.out_features, hpnet.config.num_classes, hidden=mnet.config.fc_dim,
                                       dropout=mnet.config.dropout)
            weight = mnet.head.first_linear.weight
            copies = self.mda.out_features // weight.shape[1]
            self.head.copy_from(mnet.head, torch.cat([weight / copies] * copies, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            blocks = self.backbone.forward_blocks(x)
        return self.head(self.mda(blocks))


@torch.no_grad()
def _head_val_mA(head: nn.Module, feats: TensorDataset) -> float:
    """Val mA of ``head`` on cached features, as `fit` scores an epoch."""
    from hpnet.engine import mean_accuracy

    head.eval()
    features, labels = feats.tensors[0], feats.tensors[1]
    mask = feats.tensors[2].numpy() if len(feats.tensors) > 2 else None
    logits = torch.cat([head(features[i:i + 1024]) for i in range(0, len(features), 1024)])
    return mean_accuracy(labels.numpy(), logits.float().numpy(), mask)


class _FloatInput(nn.Module):
    """Casts cached (float16) features to float32, drops a fraction ``dropout`` of them in training, then ``module``."""

    def __init__(self, module: nn.Module, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(self.dropout(x.float()))


@torch.no_grad()
def cache_features(model: nn.Module, dataset: Dataset, *, batch_size: int = 64, device: str = "auto",
                   progress: bool = False, dtype: torch.dtype = torch.float16) -> TensorDataset:
    """``model.forward_features`` of every item (eval mode) as a TensorDataset (features, labels, mask)."""
    from tqdm.auto import tqdm

    from hpnet.engine import _loader, _unpack

    dev = resolve_device(device)
    model.to(dev).eval()
    feats, labels, masks = [], [], []
    loader = _loader(dataset, batch_size, shuffle=False, num_workers=0)
    for batch in tqdm(loader, desc="cache features", disable=not progress, leave=False):
        images, y, m = _unpack(batch)
        with torch.autocast(dev.type, dtype=torch.float16, enabled=dev.type == "cuda"):
            f = model.forward_features(images.to(dev))
        feats.append(f.to("cpu", dtype))
        labels.append(y.float())
        masks.append(torch.ones_like(y, dtype=torch.bool) if m is None else m.bool())
    return TensorDataset(torch.cat(feats), torch.cat(labels), torch.cat(masks))


# ----------------------------------------------------------------------------------------------- result
@dataclass
class StageRecord:
    """What one stage produced: wall time, per-epoch history and the selected epoch."""

    seconds: float
    history: list[dict[str, float]]
    best_epoch: int
    best_val_mA: float
    cpu_seconds: float = 0.0  # CPU time of this process (all threads): less sensitive to a shared machine

    @classmethod
    def from_result(cls, result: TrainResult, seconds: float, cpu_seconds: float = 0.0) -> StageRecord:
        """A record of a `fit` result and its timings."""
        return cls(seconds=seconds, history=result.history, best_epoch=result.best_epoch, best_val_mA=result.best_val_mA,
                   cpu_seconds=cpu_seconds)


@dataclass
class StagewiseResult:
    """Outcome of `train_stagewise`: checkpoint folders, stage records and prediction helpers."""

    out_dir: Path
    preset: str
    mnet_dir: Path
    hpnet_dir: Path | None
    stages: dict[str, StageRecord]
    mnet: MNet
    hpnet: HydraPlusNet | None
    _data: _Data = field(repr=False)
    device: str = "auto"
    batch_size: int = 64

    @property
    def stage_seconds(self) -> dict[str, float]:
        """Wall time of each stage, in seconds."""
        return {name: rec.seconds for name, rec in self.stages.items()}

    @property
    def history(self) -> dict[str, list[dict[str, float]]]:
        """Per-epoch history of each stage (training curves)."""
        return {name: rec.history for name, rec in self.stages.items()}

    def model(self, name: str) -> nn.Module:
        """The trained ``mnet`` or ``hpnet``."""
        models = {"mnet": self.mnet, "hpnet": self.hpnet}
        if name not in models or models[name] is None:
            valid = [k for k, v in models.items() if v is not None]
            raise ValueError(f"no trained model {name!r} in this result; valid: {valid}")
        return models[name]  # type: ignore[return-value]

    def predict(self, name: str = "hpnet", split: str = "test", *, score: str = "prob") -> np.ndarray:
        """Scores (N, A) float32 of model ``name`` on ``split``, in the split's index order."""
        return predict_scores(self.model(name), self._data.dataset(split, train=False), batch_size=self.batch_size,
                              device=self.device, score=score)

    def test_probabilities(self) -> dict[str, np.ndarray]:
        """Test-split probabilities of every trained model (``mnet`` and, unless M-net only, ``hpnet``)."""
        names = ["mnet"] + (["hpnet"] if self.hpnet is not None else [])
        return {name: self.predict(name, "test") for name in names}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (dirs, stage times, histories, selected epochs)."""
        return {
            "out_dir": str(self.out_dir), "preset": self.preset, "mnet_dir": str(self.mnet_dir),
            "hpnet_dir": str(self.hpnet_dir) if self.hpnet_dir else None,
            "stages": {k: vars(v) for k, v in self.stages.items()},
        }


# --------------------------------------------------------------------------------------------- training
def _resolve_preset(preset: str | TrainPreset) -> TrainPreset:
    return preset if isinstance(preset, TrainPreset) else TRAIN_PRESETS.get(preset)


# TrainPreset fields a run may override by name (the stage schedules have their own overrides).
PRESET_OVERRIDES = ("augment_pad", "fusion_init", "fusion_dropout", "mda_head_init")


def with_preset_overrides(preset: str | TrainPreset, changes: dict[str, Any]) -> TrainPreset:
    """``preset`` with the `PRESET_OVERRIDES` fields in ``changes`` replaced (values checked by TrainPreset)."""
    unknown = sorted(set(changes) - set(PRESET_OVERRIDES))
    if unknown:
        raise ValueError(f"preset overrides: unknown keys {unknown}; valid: {list(PRESET_OVERRIDES)}")
    tp = _resolve_preset(preset)
    return replace(tp, **changes) if changes else tp


def _stage_configs(preset: TrainPreset, *, seed: int, device: str, num_workers: int,
                   epochs: dict[str, int | None], overrides: dict[str, dict[str, Any]]) -> dict[str, TrainConfig]:
    unknown = sorted(set(overrides) - set(STAGE_KINDS))
    if unknown:
        raise ValueError(f"stage_overrides: unknown stages {unknown}; valid: {list(STAGE_KINDS)}")
    out = {}
    for offset, kind in enumerate(STAGE_KINDS):
        changes: dict[str, Any] = {"seed": seed * 1000 + offset, "device": device, "num_workers": num_workers}
        if epochs.get(kind) is not None:
            changes["epochs"] = int(epochs[kind])  # type: ignore[arg-type]
        changes.update(overrides.get(kind, {}))
        out[kind] = clone_config(preset.stage_config(kind), **changes)
    return out


class _State:
    """``out_dir/train_state.json``: the run's identity and the stages already completed."""

    def __init__(self, out_dir: Path, identity: dict[str, Any], resume: bool) -> None:
        self.path = out_dir / STATE_FILE
        self.identity = identity
        self.stages: dict[str, StageRecord] = {}
        if resume and self.path.is_file():
            with open(self.path, encoding="utf-8") as fh:
                stored = json.load(fh)
            diffs = [k for k in sorted(set(identity) | set(stored.get("identity", {})))
                     if identity.get(k) != stored.get("identity", {}).get(k)]
            if diffs:
                detail = "; ".join(f"{k}: stored {stored['identity'].get(k)!r}, now {identity.get(k)!r}" for k in diffs)
                raise ValueError(f"cannot resume from {self.path}: the run differs ({detail})")
            self.stages = {k: StageRecord(**v) for k, v in stored.get("stages", {}).items()}

    def done(self, stage: str) -> bool:
        """Whether ``stage`` completed in the run being resumed."""
        return stage in self.stages

    def record(self, stage: str, rec: StageRecord) -> None:
        """Mark ``stage`` complete and rewrite the state file atomically."""
        self.stages[stage] = rec
        with atomic_write(self.path) as fh:
            json.dump({"identity": self.identity, "stages": {k: vars(v) for k, v in self.stages.items()}}, fh, indent=1)


def _timed_fit(model: nn.Module, train: Dataset, val: Dataset, *, loss_fn: nn.Module, config: TrainConfig,
               params: Any, checkpoint_dir: Path, resume: bool, progress: bool, desc: str) -> StageRecord:
    t0, c0 = time.perf_counter(), time.process_time()
    result = fit(model, train, val, loss_fn=loss_fn, config=config, params=params, checkpoint_dir=checkpoint_dir,
                 resume=resume, progress=progress, desc=desc)
    rec = StageRecord.from_result(result, time.perf_counter() - t0, time.process_time() - c0)
    logger.info("%s: best epoch %d, val mA %.4f, %.1f s", desc, rec.best_epoch, rec.best_val_mA, rec.seconds)
    return rec


def train_stagewise(
    attribute_set: AttributeSet,
    *,
    preset: str | TrainPreset = "cpu",
    out_dir: str | os.PathLike,
    seed: int = 0,
    device: str = "auto",
    resume: bool = False,
    mnet_only: bool = False,
    end_to_end: bool = False,
    mnet_epochs: int | None = None,
    mda_epochs: int | None = None,
    fusion_epochs: int | None = None,
    end_to_end_epochs: int | None = None,
    stage_overrides: dict[str, dict[str, Any]] | None = None,
    model_overrides: dict[str, Any] | None = None,
    num_workers: int = 0,
    progress: bool = True,
    preset_overrides: dict[str, Any] | None = None,
) -> StagewiseResult:
    """Train M-net, then (unless ``mnet_only``) HP-net stage by stage (§3.2); see the module docstring.

    ``*_epochs`` override a stage's epochs; ``stage_overrides`` any TrainConfig field per stage kind
    (``{"mnet": {"lr": 0.1}}``); ``preset_overrides`` any of `PRESET_OVERRIDES` (TrainPreset fields such as
    ``fusion_init``); ``model_overrides`` any HPNetConfig field (``attention_channels``, ``paths``, ...).
    Writes ``out_dir/mnet`` and ``out_dir/hpnet`` (``save_pretrained`` folders).
    """
    _check_splits(attribute_set)
    tp = with_preset_overrides(preset, preset_overrides or {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    configs = _stage_configs(
        tp, seed=seed, device=device, num_workers=num_workers,
        epochs={"mnet": mnet_epochs, "mda": mda_epochs, "fusion": fusion_epochs, "end_to_end": end_to_end_epochs},
        overrides=stage_overrides or {},
    )
    attributes = tuple(attribute_set.schema.attributes)
    hp_config = _hp_config(tp, attributes, model_overrides or {})
    identity = {
        "preset": tp.name, "seed": seed, "end_to_end": end_to_end, "model": config_to_dict(hp_config),
        **{k: getattr(tp, k) for k in PRESET_OVERRIDES},
        "dataset": attribute_set.dataset, "num_images": len(attribute_set),
        "stages": {k: {f: v for f, v in c.to_dict().items() if f not in TrainConfig.RESUME_IGNORED}
                   for k, c in configs.items()},
    }
    state = _State(out, identity, resume)
    data = _Data(attribute_set, hp_config, cache=tp.cache_images, num_workers=num_workers, progress=progress,
                 pad=tp.augment_pad)
    loss_fn = WeightedBCELoss(positive_ratio_from(attribute_set, "train"))
    ckpt = out / "checkpoints"
    mnet_dir, hpnet_dir, partial_dir = out / "mnet", out / "hpnet", out / "hpnet_partial"
    train_aug, val = data.dataset("train", train=True), data.dataset("val")

    # Stage 1: M-net.
    if state.done("mnet") and (mnet_dir / "config.json").is_file():
        mnet = MNet.from_pretrained(mnet_dir)
        logger.info("stage mnet: done, loaded %s", mnet_dir)
    else:
        torch.manual_seed(configs["mnet"].seed)
        mnet = MNet(hp_config.mnet_config())
        rec = _timed_fit(mnet, train_aug, val, loss_fn=loss_fn, config=configs["mnet"], params=None,
                         checkpoint_dir=ckpt / "mnet", resume=resume, progress=progress, desc="mnet")
        mnet.save_pretrained(mnet_dir)
        state.record("mnet", rec)
    mnet.eval()
    result_kwargs = {"out_dir": out, "preset": tp.name, "mnet_dir": mnet_dir, "_data": data, "device": device,
                     "batch_size": tp.feature_batch_size, "mnet": mnet}
    if mnet_only:
        return StagewiseResult(hpnet_dir=None, stages=dict(state.stages), hpnet=None, **result_kwargs)

    if state.done("fusion" if not end_to_end else "end_to_end") and (hpnet_dir / "config.json").is_file():
        hpnet = HydraPlusNet.from_pretrained(hpnet_dir)
        return StagewiseResult(hpnet_dir=hpnet_dir, stages=dict(state.stages), hpnet=hpnet.eval(), **result_kwargs)

    torch.manual_seed(configs["mda"].seed)
    hpnet = HydraPlusNet.from_mnet(mnet, **{k: getattr(hp_config, k) for k in _HP_ONLY_FIELDS})
    if end_to_end:
        rec = _timed_fit(hpnet, train_aug, val, loss_fn=loss_fn, config=configs["end_to_end"], params=None,
                         checkpoint_dir=ckpt / "end_to_end", resume=resume, progress=progress, desc="end_to_end")
        hpnet.save_pretrained(hpnet_dir)
        state.record("end_to_end", rec)
        return StagewiseResult(hpnet_dir=hpnet_dir, stages=dict(state.stages), hpnet=hpnet.eval(), **result_kwargs)

    # Stage 2: each MDA module separately, trunk frozen.
    if (partial_dir / "config.json").is_file() and any(state.done(f"mda{i}") for i in hp_config.attention_levels):
        hpnet = HydraPlusNet.from_pretrained(partial_dir)
    hpnet.backbone.requires_grad_(False)
    for level in hp_config.attention_levels:
        stage = f"mda{level}"
        if state.done(stage):
            logger.info("stage %s: done", stage)
            continue
        torch.manual_seed(configs["mda"].seed + level)
        module = MDAStage(hpnet, level, dropout=0.0, mnet=mnet if tp.mda_head_init == "mnet" else None)
        params = list(module.mda.parameters()) + list(module.head.parameters())
        config = clone_config(configs["mda"], seed=configs["mda"].seed + level)
        rec = _timed_fit(module, train_aug, val, loss_fn=loss_fn, config=config, params=params,
                         checkpoint_dir=ckpt / stage, resume=resume, progress=progress, desc=stage)
        hpnet.save_pretrained(partial_dir)
        state.record(stage, rec)

    # Stage 3: freeze M-net and AF-net, cache pooled features, train the final FC.
    hpnet.requires_grad_(False)
    hpnet.head.requires_grad_(True)
    t0, c0 = time.perf_counter(), time.process_time()
    train_feats = cache_features(hpnet, data.dataset("train"), batch_size=tp.feature_batch_size, device=device,
                                 progress=progress)
    val_feats = cache_features(hpnet, val, batch_size=tp.feature_batch_size, device=device, progress=progress)
    cache_seconds, cache_cpu = time.perf_counter() - t0, time.process_time() - c0
    logger.info("fusion: cached %s train and %s val features in %.1f s", tuple(train_feats.tensors[0].shape),
                tuple(val_feats.tensors[0].shape), cache_seconds)
    torch.manual_seed(configs["fusion"].seed)
    head = _FloatInput(hpnet.head, tp.fusion_dropout)
    initial = None
    if tp.fusion_init == "mnet":
        hpnet.head_from_mnet(mnet)
        initial = (_head_val_mA(head, val_feats), {k: v.clone() for k, v in hpnet.head.state_dict().items()})
        logger.info("fusion: head started from M-net's (val mA %.4f)", initial[0])
    rec = _timed_fit(head, train_feats, val_feats, loss_fn=loss_fn, config=configs["fusion"], params=None,
                     checkpoint_dir=ckpt / "fusion", resume=resume, progress=progress, desc="fusion")
    if initial is not None:
        # Checkpoint selection on val includes epoch 0, the fusion FC as it started (M-net's head).
        rec.history.insert(0, {"epoch": 0, "val_mA": initial[0]})
        if initial[0] > rec.best_val_mA:
            hpnet.head.load_state_dict(initial[1])
            rec.best_epoch, rec.best_val_mA = 0, initial[0]
            logger.info("fusion: no epoch beat the starting head on val; keeping M-net's head")
    rec.seconds += cache_seconds
    rec.cpu_seconds += cache_cpu
    hpnet.save_pretrained(hpnet_dir)
    state.record("fusion", rec)
    hpnet.requires_grad_(True)  # frozen for training only; the returned model is an ordinary module
    return StagewiseResult(hpnet_dir=hpnet_dir, stages=dict(state.stages), hpnet=hpnet.eval(), **result_kwargs)


_HP_ONLY_FIELDS = ("attention_channels", "paths", "mda_execution", "attention_init_gain", "attention_init_bias")


def _hp_config(tp: TrainPreset, attributes: tuple[str, ...], overrides: dict[str, Any]) -> HPNetConfig:
    from hpnet.config import with_overrides

    base = HPNetConfig(num_classes=len(attributes), attributes=attributes)
    base = with_overrides(base, **PRESETS.get(tp.model_preset).model_kwargs("hpnet_bninception"))
    return with_overrides(base, **overrides)


def train_mnet(attribute_set: AttributeSet, **kwargs: Any) -> StagewiseResult:
    """Stage 1 only: M-net, the paper's baseline (same arguments as `train_stagewise`)."""
    return train_stagewise(attribute_set, mnet_only=True, **kwargs)

