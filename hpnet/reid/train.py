"""Stage-wise identity training of M-net and HP-net for person re-identification (§3.2, §6.1).

The paper trains one model on the union of the ReID training sets (JSTL, `pa100k.reid.merge_train`:
every dataset's identities are distinct softmax classes) with a softmax loss, stage by stage as for
attributes:

1. ``mnet``: M-net with the identity softmax.
2. ``mda{i}_to{ks}``: for each MDA module 𝓕(αⁱ) separately, its attention layer and its copies of the
   blocks after each attended block k, with a temporary identity head that is discarded afterwards; the
   M-net trunk is frozen (no gradient, batch-norm in eval mode). A module depends only on its level
   and directions, so the Fig. 6 configurations share the modules they have in common.
3. ``fusion_{paths}``: the HP-net's FC head on cached, frozen features. ReID features are the pooled
   ``forward_features`` by default, which do not pass through that head, so this stage runs only when
   the preset's ``feature`` is ``"fc"`` (the head's FC-512 embedding) or ``fusion_stage=True``.

`hpnet.reid.fit.fit_identity` runs each stage through `hpnet.engine.fit` with the ``identity`` objective (seeded,
tqdm, resumable per epoch). Checkpoints are selected on the identity accuracy of held-out images of the *training*
identities (`hpnet.reid.data.holdout_split`), or the last epoch when nothing is held out; never on the test
query/gallery. An optional batch-hard triplet term (``triplet_weight > 0``, P×K batches) is off by default.
Everything lands in ``out_dir``: ``train_state.json`` (completed stages), ``mnet/`` and ``hpnet-<paths>/``
(``save_pretrained`` folders), ``mda/<stage>.safetensors`` and ``checkpoints/<stage>/`` (`hpnet.engine.fit`'s
``last/`` and ``best/``).

Under ``torchrun`` every rank runs every stage (DistributedDataParallel; all ranks end each stage with the same
weights) and writes the files above, so each rank needs its own ``out_dir``: `benchmarks.reid_runner` gives rank 0
the run folder's ``train/`` and the others a private temporary folder, as `hpnet.train` is used by the attribute
runner. The fusion stage's features are computed by every rank from its own (identical) frozen model: no
communication, and no slower than rank 0 computing them while the others wait.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hpnet.afnet import HydraPlusNet
from hpnet.checkpoint import config_to_dict, load_safetensors, load_state_dict_into, save_safetensors
from hpnet.config import MDA_ABLATIONS, PRESETS, HPNetConfig, with_overrides
from hpnet.engine import TrainConfig, clone_config, resolve_device
from hpnet.mnet import ClassifierHead, MNet
from hpnet.reid.data import ImageStore, ReIDImageDataset, holdout_split
from hpnet.reid.evaluate import FEATURES
from hpnet.reid.fit import StageRecord, fit_identity
from hpnet.reid.losses import IdentityLoss
from pa100k.fileio import atomic_write
from pa100k.registry import Registry

logger = logging.getLogger(__name__)

STATE_FILE = "train_state.json"
STAGE_KINDS = ("mnet", "mda", "fusion")
_HP_ONLY_FIELDS = ("attention_channels", "paths", "mda_execution", "attention_init_gain", "attention_init_bias")


# ------------------------------------------------------------------------------------------------ presets
@dataclass(frozen=True)
class ReIDTrainPreset:
    """A model preset (`hpnet.config.PRESETS`) with the identity-training schedule of every stage.

    ``feature``: the ReID feature (`hpnet.reid.evaluate.FEATURES`: ``pooled`` = ``forward_features``,
    ``fc`` = the head's FC embedding); ``flip``: average the features of an image and its mirror image;
    ``fusion_stage``: train HP-net's FC head (None: only when ``feature == "fc"``). ``holdout_per_id``
    images of each training identity with at least ``holdout_min_images`` images select checkpoints
    (0: the last epoch is kept). ``pad``: random translation of training images by up to that many
    pixels. ``triplet_weight`` > 0 adds the batch-hard triplet loss with P×K batches of
    ``instances_per_id`` images per identity. ``model_overrides`` sets `HPNetConfig` fields.
    """

    name: str
    model_preset: str
    mnet: TrainConfig
    mda: TrainConfig
    fusion: TrainConfig
    feature: str = "pooled"
    flip: bool = False
    fusion_stage: bool | None = None
    holdout_per_id: int = 1
    holdout_min_images: int = 5
    pad: int = 0
    triplet_weight: float = 0.0
    triplet_margin: float = 0.3
    instances_per_id: int = 4
    label_smoothing: float = 0.0
    cache_images: bool = True
    feature_batch_size: int = 64
    num_workers: int = 0
    model_overrides: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if self.feature not in FEATURES:
            raise ValueError(f"ReIDTrainPreset.feature must be one of {FEATURES.names()}, found {self.feature!r}")
        PRESETS.get(self.model_preset)
        for name in ("holdout_per_id", "pad", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"ReIDTrainPreset.{name} must be >= 0, found {getattr(self, name)}")
        if self.holdout_min_images <= self.holdout_per_id:
            raise ValueError(f"ReIDTrainPreset.holdout_min_images must exceed holdout_per_id ({self.holdout_per_id}), "
                             f"found {self.holdout_min_images}")
        if self.triplet_weight < 0:
            raise ValueError(f"ReIDTrainPreset.triplet_weight must be >= 0, found {self.triplet_weight}")
        if self.feature_batch_size < 1:
            raise ValueError(f"ReIDTrainPreset.feature_batch_size must be >= 1, found {self.feature_batch_size}")

    @property
    def runs_fusion(self) -> bool:
        """Whether stage 3 (HP-net's FC head) is trained."""
        return self.feature == "fc" if self.fusion_stage is None else bool(self.fusion_stage)

    def model_config(self, num_classes: int) -> HPNetConfig:
        """The HP-net config (M-net's is ``.mnet_config()``) for ``num_classes`` training identities."""
        base = HPNetConfig(num_classes=num_classes)
        base = with_overrides(base, **PRESETS.get(self.model_preset).model_kwargs("hpnet_bninception"))
        return with_overrides(base, **self.model_overrides)

    def stage_config(self, kind: str) -> TrainConfig:
        """The TrainConfig of stage kind ``mnet``, ``mda`` or ``fusion``."""
        if kind not in STAGE_KINDS:
            raise ValueError(f"unknown stage kind {kind!r}; valid: {', '.join(STAGE_KINDS)}")
        return getattr(self, kind)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for config.json and the resume check)."""
        return json.loads(json.dumps(asdict(self)))


REID_TRAIN_PRESETS: Registry[ReIDTrainPreset] = Registry("ReID training preset")


def _sgd(epochs: int, lr: float, batch: int, **kw: Any) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=batch, lr=lr, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                       scheduler="cosine", **kw)


REID_TRAIN_PRESETS.add("paper", ReIDTrainPreset(
    "paper", "paper",
    mnet=_sgd(60, 0.05, 64, warmup_epochs=2),
    mda=_sgd(10, 0.01, 64, warmup_epochs=0.5),
    fusion=TrainConfig(epochs=20, batch_size=256, lr=1e-3, optimizer="adamw", weight_decay=1e-2, scheduler="cosine"),
    feature="fc", flip=True, pad=10, cache_images=False, num_workers=8,
    description="full-width BN-Inception at the model preset's 224×224 (a GPU); JSTL-sized schedules; the 512-d "
                "fused FC feature (the pooled HP-net feature is 74,752-d: 4.7 GB for Market-1501's gallery)",
))
# Sized on synthetic_reid small (363 multi-camera training identities, 4,590 images; 816 queries, 4,166 gallery
# images). With the softmax alone, M-net's top-1 there swung from 27 % to 11 % between two runs that differed only
# in the order of float sums (1 vs 2 threads); with the batch-hard triplet term it was 30 % and 41 % (seeds 0, 1).
# Measured (`python -m benchmarks.run --method mnet,hpnet --task reid`, 2 threads, this 2-core machine under load
# ~2.9): 13.9 min wall, 830 s CPU of which 487 s in the main thread (about the wall time on 2 idle cores: 8 min);
# M-net 497 s CPU, the three MDA modules 175 s, features of both models 143 s. M-net top-1 34.2 %, HP-net 34.4 %.
REID_TRAIN_PRESETS.add("cpu", ReIDTrainPreset(
    "cpu", "cpu",
    mnet=_sgd(10, 0.05, 32, warmup_epochs=0.5),
    mda=_sgd(1, 0.02, 32, max_steps_per_epoch=64),  # fine-tuning copies of M-net's blocks: 64 steps per module
    fusion=TrainConfig(epochs=10, batch_size=128, lr=1e-3, optimizer="adamw", weight_decay=5e-2, scheduler="cosine"),
    triplet_weight=1.0, instances_per_id=4,
    description="width 0.25, 128×64, L = 4 (model preset cpu); softmax + batch-hard triplet (P×K = 8×4); M-net "
                "10 epochs (1,320 steps on synthetic_reid small), each MDA module 64 steps (half an epoch); pooled "
                "features, no flip, images decoded once: M-net and HP-net on synthetic_reid small in about 10 min "
                "on 2 idle cores",
))
REID_TRAIN_PRESETS.add("tiny", ReIDTrainPreset(
    "tiny", "tiny",
    mnet=_sgd(2, 0.05, 8, max_steps_per_epoch=3),
    mda=_sgd(1, 0.01, 8, max_steps_per_epoch=2),
    fusion=TrainConfig(epochs=1, batch_size=16, lr=1e-3, optimizer="adamw", weight_decay=1e-2, scheduler="none",
                       max_steps_per_epoch=2),
    holdout_min_images=3, feature_batch_size=16,
    description="width 0.125, 64×32, L = 2, a few batches per stage: for tests (seconds)",
))

# Preset fields a run may override by name; the others are set through the keys of `apply_overrides`.
_PLAIN_FIELDS = tuple(f.name for f in fields(ReIDTrainPreset)
                      if f.name not in ("name", "mnet", "mda", "fusion", "model_overrides", "description"))


def apply_overrides(preset: str | ReIDTrainPreset, overrides: Mapping[str, Any]) -> ReIDTrainPreset:
    """A copy of ``preset`` with run overrides applied.

    Keys: a preset field (``feature``, ``flip``, ``triplet_weight``, ``holdout_per_id``, ...);
    ``<stage>.<TrainConfig field>`` or ``<stage>_epochs`` for stage ``mnet``, ``mda`` or ``fusion``;
    ``model.<HPNetConfig field>``; ``attention_config`` = a `hpnet.config.MDA_ABLATIONS` name (the Fig. 6
    path sets), which sets ``model.paths``. Unknown keys raise a ValueError listing the valid ones.
    """
    tp = REID_TRAIN_PRESETS.get(preset) if isinstance(preset, str) else preset
    plain: dict[str, Any] = {}
    stages: dict[str, dict[str, Any]] = {k: {} for k in STAGE_KINDS}
    model = dict(tp.model_overrides)
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if key in _PLAIN_FIELDS:
            plain[key] = value
        elif key.endswith("_epochs") and key[: -len("_epochs")] in STAGE_KINDS:
            stages[key[: -len("_epochs")]]["epochs"] = int(value)
        elif head in STAGE_KINDS and rest:
            stages[head][rest] = value
        elif head == "model" and rest:
            model[rest] = value
        elif key == "attention_config":
            model["paths"] = MDA_ABLATIONS.get(str(value))
        else:
            valid = [*_PLAIN_FIELDS, *(f"{k}_epochs" for k in STAGE_KINDS), *(f"{k}.<TrainConfig field>" for k in STAGE_KINDS),
                     "model.<HPNetConfig field>", "attention_config"]
            raise ValueError(f"override {key!r} is not a ReID training setting; valid: {', '.join(valid)}")
    changed = {k: clone_config(tp.stage_config(k), **v) for k, v in stages.items() if v}
    out = replace(tp, **plain, **changed, model_overrides=model)
    out.model_config(1)  # validates the model overrides by name
    return out


# --------------------------------------------------------------------------------------- stage modules
class _MDAIdentity(nn.Module):
    """Stage 2 for one MDA module: frozen trunk (no gradient) → 𝓕(αⁱ) features → temporary identity head.

    The temporary head has M-net's head design (FC-BN-ReLU-dropout → FC): the concatenated attentive
    features are wide and unnormalised, and a bare linear softmax head on them diverges at M-net's
    learning rates. It is discarded after the stage (as in `hpnet.train.MDAStage`).
    """

    def __init__(self, hpnet: HydraPlusNet, level: int) -> None:
        super().__init__()
        key = f"mda{level}"
        if key not in hpnet.afnet.mdas:
            raise ValueError(f"the HP-net has no MDA module for block {level}; it has {list(hpnet.afnet.mdas)}")
        self.backbone = hpnet.backbone
        self.mda = hpnet.afnet.mdas[key]
        cfg = hpnet.config
        self.head = ClassifierHead(self.mda.out_features, cfg.num_classes, cfg.fc_dim, cfg.dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            blocks = self.backbone.forward_blocks(x)
        return self.mda(blocks)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)


class _FusionHead(nn.Module):
    """Stage 3: HP-net's FC head on cached features; ``forward_features`` is its FC embedding (for a triplet term)."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.hidden(x.float())

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head.classifier(features)


class _Features(Dataset):
    """Cached features with their identity labels (``labels`` for P×K sampling)."""

    def __init__(self, features: torch.Tensor, labels: np.ndarray) -> None:
        self.features, self.labels = features, np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[k], torch.tensor(self.labels[k])


@torch.no_grad()
def _cache_features(model: HydraPlusNet, dataset: ReIDImageDataset, *, batch_size: int, device: torch.device,
                    progress: bool, desc: str) -> _Features:
    from tqdm.auto import tqdm

    model.to(device).eval()
    out = []
    for x, _ in tqdm(DataLoader(dataset, batch_size=batch_size), desc=desc, disable=not progress, leave=False):
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            out.append(model.forward_features(x.to(device)).to("cpu", torch.bfloat16))  # float16 can overflow
    return _Features(torch.cat(out), dataset.labels)


# --------------------------------------------------------------------------------------------- trainer
def paths_tag(paths: Sequence[Sequence[int]]) -> str:
    """A name for a set of attentive paths: its `MDA_ABLATIONS` name, else ``p11-12-...``."""
    key = tuple(sorted((int(i), int(k)) for i, k in paths))
    for name in MDA_ABLATIONS.names():
        if tuple(sorted(MDA_ABLATIONS.get(name))) == key:
            return name
    return "p" + "-".join(f"{i}{k}" for i, k in key)


def _mda_stage_name(level: int, directions: Sequence[int]) -> str:
    return f"mda{level}_to{''.join(str(k) for k in directions)}"


class _State:
    """``train_state.json``: the training run's identity and its completed stages."""

    def __init__(self, path: Path, identity: dict[str, Any], resume: bool) -> None:
        self.path, self.identity = path, identity
        self.stages: dict[str, StageRecord] = {}
        if self.path.is_file():
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            if not resume:
                logger.info("%s exists; starting over (resume=False)", self.path)
            else:
                old = stored.get("identity", {})
                diffs = [f"{k}: stored {old.get(k)!r}, now {identity.get(k)!r}"
                         for k in sorted(set(identity) | set(old)) if identity.get(k) != old.get(k)]
                if diffs:
                    raise ValueError(f"cannot resume from {self.path}: the training run differs ({'; '.join(diffs)})")
                self.stages = {k: StageRecord(**v) for k, v in stored.get("stages", {}).items()}

    def done(self, stage: str) -> bool:
        return stage in self.stages

    def record(self, stage: str, rec: StageRecord) -> None:
        self.stages[stage] = rec
        with atomic_write(self.path) as fh:
            json.dump({"identity": self.identity, "stages": {k: asdict(v) for k, v in self.stages.items()}}, fh, indent=1)


class ReIDTrainer:
    """Stage-wise identity training on ``train_items`` (``(image, label, ...)`` tuples, labels ``0..C-1``, e.g.
    from `pa100k.reid.merge_train`); each model is trained on first request and reused afterwards.

    ``mnet()`` → the trained M-net; ``hpnet(paths)`` → an HP-net with the given attentive paths (default
    all nine, or ``model.paths`` of the preset), assembled from M-net and the trained MDA modules;
    ``records`` → every completed stage. ``resume`` continues ``out_dir`` (same settings required).
    """

    def __init__(self, train_items: Sequence[tuple], *, preset: str | ReIDTrainPreset = "cpu",
                 out_dir: str | os.PathLike, seed: int = 0, device: str = "auto", resume: bool = False,
                 progress: bool = True) -> None:
        self.preset = REID_TRAIN_PRESETS.get(preset) if isinstance(preset, str) else preset
        if not train_items:
            raise ValueError("ReIDTrainer: train_items is empty")
        for k, item in enumerate(train_items):
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise ValueError(f"ReIDTrainer: train_items[{k}] must be (image, label, ...), found {item!r}")
        self.refs = [item[0] for item in train_items]
        self.labels = np.asarray([int(item[1]) for item in train_items], dtype=np.int64)
        classes = np.unique(self.labels)
        if not np.array_equal(classes, np.arange(len(classes))):
            raise ValueError(f"ReIDTrainer: identity labels must be 0..{len(classes) - 1} (relabelled, as merge_train "
                             f"gives them), found {len(classes)} labels ranging {classes.min()}..{classes.max()}")
        self.num_classes = len(classes)
        self.config = self.preset.model_config(self.num_classes)
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.seed, self.device, self.resume, self.progress = seed, device, resume, progress
        self.loss_fn = IdentityLoss(self.preset.triplet_weight, self.preset.triplet_margin, self.preset.label_smoothing)
        identity = {"preset": self.preset.to_dict(), "seed": seed, "num_classes": self.num_classes,
                    "num_images": len(self.labels), "model": config_to_dict(self.config)}
        identity["preset"].pop("num_workers", None)
        self.state = _State(self.out / STATE_FILE, json.loads(json.dumps(identity)), resume)
        self._data: tuple[ReIDImageDataset, ReIDImageDataset, ReIDImageDataset] | None = None
        self._mnet: MNet | None = None
        self._mda: dict[str, dict[str, torch.Tensor]] = {}
        self._hpnets: dict[str, HydraPlusNet] = {}

    # ------------------------------------------------------------------------------------------- data
    def datasets(self) -> tuple[ReIDImageDataset, ReIDImageDataset, ReIDImageDataset]:
        """``(train (augmented), train (plain), val)`` image datasets; images are decoded on first call."""
        if self._data is None:
            tp, cfg = self.preset, self.config
            names = [ref.name if isinstance(ref, Path) else f"train[{i}]" for i, ref in enumerate(self.refs)]
            store = ImageStore(self.refs, cfg.input_size, names=names, cache=tp.cache_images,
                               num_workers=tp.num_workers, progress=self.progress, desc="train images")
            train_idx, val_idx = holdout_split(self.labels, per_identity=tp.holdout_per_id,
                                               min_images=tp.holdout_min_images, seed=self.seed)
            logger.info("identity training: %d images of %d identities, %d held out (one per identity with >= %d "
                        "images) to select checkpoints", len(train_idx), self.num_classes, len(val_idx),
                        tp.holdout_min_images)
            common = {"mean": cfg.mean, "std": cfg.std}
            self._data = (
                ReIDImageDataset(store, self.labels, train_idx, train=True, pad=tp.pad, **common),
                ReIDImageDataset(store, self.labels, train_idx, train=False, **common),
                ReIDImageDataset(store, self.labels, val_idx, train=False, **common),
            )
        return self._data

    def _stage_config(self, kind: str, offset: int) -> TrainConfig:
        return clone_config(self.preset.stage_config(kind), seed=self.seed * 10000 + offset, device=self.device,
                            num_workers=self.preset.num_workers)

    def _fit(self, stage: str, model: nn.Module, train: Dataset, val: Dataset, config: TrainConfig,
             params: Sequence[nn.Parameter] | None) -> StageRecord:
        rec = fit_identity(model, train, val, loss_fn=self.loss_fn, config=config, params=params,
                           checkpoint_dir=self.out / "checkpoints" / stage, resume=self.resume, progress=self.progress,
                           desc=stage, instances_per_id=self.preset.instances_per_id if self.preset.triplet_weight > 0 else None)
        logger.info("%s: epoch %d selected (%s%s), %.1f s", stage, rec.best_epoch, rec.selection,
                    "" if rec.best_val_accuracy is None else f" {rec.best_val_accuracy:.4f}", rec.seconds)
        return rec

    # ----------------------------------------------------------------------------------------- stages
    def mnet(self) -> MNet:
        """Stage 1: M-net trained with the identity softmax (§3.2)."""
        if self._mnet is not None:
            return self._mnet
        folder = self.out / "mnet"
        if self.state.done("mnet") and (folder / "config.json").is_file():
            self._mnet = MNet.from_pretrained(folder).eval()
            logger.info("stage mnet: done earlier, loaded %s", folder)
            return self._mnet
        train, _, val = self.datasets()
        torch.manual_seed(self.seed * 10000)
        model = MNet(self.config.mnet_config())
        rec = self._fit("mnet", model, train, val, self._stage_config("mnet", 0), None)
        model.save_pretrained(folder)
        self.state.record("mnet", rec)
        self._mnet = model.eval()
        return self._mnet

    def mda_state(self, level: int, directions: Sequence[int]) -> dict[str, torch.Tensor]:
        """Stage 2 for 𝓕(α^level) attending ``directions``: the trained module's state dict."""
        directions = tuple(sorted(int(k) for k in directions))
        stage = _mda_stage_name(level, directions)
        if stage in self._mda:
            return self._mda[stage]
        path = self.out / "mda" / f"{stage}.safetensors"
        if self.state.done(stage) and path.is_file():
            self._mda[stage] = load_safetensors(path)
            logger.info("stage %s: done earlier, loaded %s", stage, path)
            return self._mda[stage]
        mnet = self.mnet()
        offset = 1000 + 100 * level + sum(10 ** (3 - k) for k in directions)
        torch.manual_seed(self.seed * 10000 + offset)
        hp = HydraPlusNet.from_mnet(mnet, **self._hp_fields(tuple((level, k) for k in directions)))
        hp.backbone.requires_grad_(False)
        module = _MDAIdentity(hp, level)
        params = [*module.mda.parameters(), *module.head.parameters()]
        train, _, val = self.datasets()
        rec = self._fit(stage, module, train, val, self._stage_config("mda", offset), params)
        state = {k: v.detach().cpu() for k, v in module.mda.state_dict().items()}
        save_safetensors(state, path)
        self.state.record(stage, rec)
        self._mda[stage] = state
        return state

    def hpnet(self, paths: Sequence[Sequence[int]] | None = None, *, save: bool = True) -> HydraPlusNet:
        """HP-net with attentive ``paths`` (default: the preset's ``model.paths``, i.e. all nine): M-net trunk and
        the separately trained MDA modules, then (when the preset runs it) stage 3 on its FC head."""
        paths = tuple(sorted((int(i), int(k)) for i, k in (self.config.paths if paths is None else paths)))
        tag = paths_tag(paths)
        if tag in self._hpnets:
            return self._hpnets[tag]
        folder, stage = self.out / f"hpnet-{tag}", f"fusion_{tag}"
        if self.state.done(stage) and (folder / "config.json").is_file():
            self._hpnets[tag] = HydraPlusNet.from_pretrained(folder).eval()
            logger.info("stage %s: done earlier, loaded %s", stage, folder)
            return self._hpnets[tag]
        mnet = self.mnet()
        states = {level: self.mda_state(level, [k for i, k in paths if i == level])
                  for level in sorted({i for i, _ in paths})}
        torch.manual_seed(self.seed * 10000 + 9000)
        hp = HydraPlusNet.from_mnet(mnet, **self._hp_fields(paths))
        for level, state in states.items():
            load_state_dict_into(hp.afnet.mdas[f"mda{level}"], state, source=f"{self.out / 'mda'} (mda{level})")
        if self.preset.runs_fusion:
            self._fusion(hp, stage)
        hp.eval()
        if save:
            hp.save_pretrained(folder, extra={"reid": {"paths": tag, "head_trained": self.preset.runs_fusion,
                                                       "num_train_ids": self.num_classes}})
        self._hpnets[tag] = hp
        return hp

    def _fusion(self, hp: HydraPlusNet, stage: str) -> None:
        """Stage 3: freeze M-net and AF-net, cache their pooled features once, train the FC head."""
        _, plain, val = self.datasets()
        hp.requires_grad_(False)
        hp.head.requires_grad_(True)
        dev = resolve_device(self.device)
        t0 = time.perf_counter()
        bs = self.preset.feature_batch_size
        train_f = _cache_features(hp, plain, batch_size=bs, device=dev, progress=self.progress, desc=f"{stage}: cache train")
        val_f = _cache_features(hp, val, batch_size=bs, device=dev, progress=self.progress, desc=f"{stage}: cache val") \
            if len(val) else None
        cache_seconds = time.perf_counter() - t0
        torch.manual_seed(self.seed * 10000 + 9001)
        rec = self._fit(stage, _FusionHead(hp.head), train_f, val_f, self._stage_config("fusion", 9001), None)
        rec.seconds += cache_seconds
        self.state.record(stage, rec)

    def stages_for(self, paths: Sequence[Sequence[int]] | None = None) -> list[str]:
        """The stages a model needs: ``["mnet"]`` for M-net (``paths=None``), else M-net's, each MDA module's and
        (when the preset runs it) the fusion stage of the HP-net with ``paths``."""
        if paths is None:
            return ["mnet"]
        paths = tuple(sorted((int(i), int(k)) for i, k in paths))
        mda = [_mda_stage_name(level, [k for i, k in paths if i == level]) for level in sorted({i for i, _ in paths})]
        return ["mnet", *mda, *([f"fusion_{paths_tag(paths)}"] if self.preset.runs_fusion else [])]

    def _hp_fields(self, paths: tuple[tuple[int, int], ...]) -> dict[str, Any]:
        fields_ = {k: getattr(self.config, k) for k in _HP_ONLY_FIELDS}
        fields_["paths"] = paths
        return fields_

    @property
    def records(self) -> dict[str, StageRecord]:
        """Every completed stage, by name."""
        return dict(self.state.stages)


@dataclass
class ReIDTrainResult:
    """What `train_reid` returns: the trained models and the stage records."""

    mnet: MNet
    hpnet: HydraPlusNet | None
    stages: dict[str, StageRecord]
    out_dir: Path


def train_reid(train_items: Sequence[tuple], *, preset: str | ReIDTrainPreset = "cpu", out_dir: str | os.PathLike,
               seed: int = 0, device: str = "auto", resume: bool = False, mnet_only: bool = False,
               paths: Sequence[Sequence[int]] | None = None, progress: bool = True) -> ReIDTrainResult:
    """Train M-net and (unless ``mnet_only``) HP-net for ReID, stage by stage (§3.2, §6.1); see the module docstring."""
    trainer = ReIDTrainer(train_items, preset=preset, out_dir=out_dir, seed=seed, device=device, resume=resume,
                          progress=progress)
    mnet = trainer.mnet()
    hp = None if mnet_only else trainer.hpnet(paths)
    return ReIDTrainResult(mnet=mnet, hpnet=hp, stages=trainer.records, out_dir=Path(out_dir))
