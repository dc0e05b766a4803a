"""The "-mm" baselines of the paper's Table 2: fixed features + one linear SVM per attribute.

ELF-mm uses the ELF descriptor (`baselines.elf`), FC6-mm / FC7-mm the fc6 / fc7 activations of an
ImageNet AlexNet/CaffeNet (`baselines.fc_features`). Features of the train, val and test images are
computed once (cached per dataset when a cache folder is given), the SVMs are fitted on train with C
chosen per attribute on val (`baselines.svm`), and the val and test scores are ``sigmoid(decision)``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from baselines.cache import cached_features, dataset_fingerprint
from baselines.common import BaselineResult, check_splits, split_union, timed
from baselines.elf import ELFConfig, extract_elf
from baselines.fc_features import FCFeatureConfig, fc_features
from baselines.svm import SVMConfig, fit_attribute_svms
from pa100k.attribute_set import AttributeSet
from pa100k.registry import Registry

logger = logging.getLogger(__name__)


def svm_on_features(data: AttributeSet, features: np.ndarray, indices: np.ndarray, config: SVMConfig,
                    timings: dict[str, float] | None = None) -> BaselineResult:
    """Fit per-attribute SVMs on the train rows of ``features`` (row k = image ``indices[k]``, sorted), select C
    on val, and score val and test."""
    timings = {} if timings is None else timings
    rows = {s: np.searchsorted(indices, data.split_indices(s)) for s in ("train", "val", "test")}
    known = data.known()
    with timed(timings, "svm"):
        svms = fit_attribute_svms(
            features[rows["train"]], data.labels[data.split_indices("train")],
            features[rows["val"]], data.labels[data.split_indices("val")],
            mask_train=known[data.split_indices("train")], mask_val=known[data.split_indices("val")],
            config=config, attribute_names=data.attribute_names,
        )
    with timed(timings, "predict"):
        val, test = svms.predict_proba(features[rows["val"]]), svms.predict_proba(features[rows["test"]])
    info = {"C": svms.C.tolist(), "val_mA_per_attribute": svms.val_mA.tolist(), "feature_dim": int(features.shape[1])}
    return BaselineResult(val_scores=val, test_scores=test, timings=timings, info=info)


# ---------------------------------------------------------------------------------------------------- ELF-mm
@dataclass(frozen=True)
class ELFMMConfig:
    """ELF-mm: ELF descriptor at ``height`` x ``width`` (6 stripes, 16 bins) + per-attribute linear SVMs."""

    height: int = 128
    width: int = 48
    stripes: int = 6
    bins: int = 16
    n_jobs: int = -1  # ELF extraction processes (-1: one per core)
    chunk_size: int = 256
    C_grid: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2)
    solver: str = "newton"
    max_iter: int = 50
    device: str = "auto"

    def elf(self) -> ELFConfig:
        """The feature part."""
        return ELFConfig(height=self.height, width=self.width, stripes=self.stripes, bins=self.bins)

    def svm(self, seed: int = 0) -> SVMConfig:
        """The classifier part."""
        return SVMConfig(C_grid=self.C_grid, solver=self.solver, max_iter=self.max_iter, device=self.device,
                         n_jobs=self.n_jobs, seed=seed)


ELF_MM_PRESETS: Registry[ELFMMConfig] = Registry("ELF-mm preset")
ELF_MM_PRESETS.add("tiny", ELFMMConfig(height=32, width=16, n_jobs=1, chunk_size=64, C_grid=(0.01, 0.1), max_iter=20))
ELF_MM_PRESETS.add("cpu", ELFMMConfig())
ELF_MM_PRESETS.add("paper", ELFMMConfig(C_grid=(1e-6, 1e-5, 1e-4, 1e-3, 1e-2)))


def run_elf_mm(data: AttributeSet, config: ELFMMConfig = ELFMMConfig(), *, cache_dir: Path | None = None,
               dataset_name: str = "", seed: int = 0, progress: bool = False) -> BaselineResult:
    """ELF-mm on ``data``: ELF features of train/val/test (cached), SVMs on train, C per attribute on val."""
    check_splits(data)
    indices = split_union(data)
    elf = config.elf()
    timings: dict[str, float] = {}
    key = {"elf": elf.to_dict(), **dataset_fingerprint(data, indices)}
    with timed(timings, "features"):
        features = cached_features(
            cache_dir, dataset_name or data.dataset, "elf", data.names[indices], key,
            lambda: extract_elf(data, indices, elf, n_jobs=config.n_jobs, chunk_size=config.chunk_size,
                                progress=progress),
        )
    result = svm_on_features(data, features, indices, config.svm(seed), timings)
    result.info["config"] = asdict(config)
    return result


# ------------------------------------------------------------------------------------------- FC6-mm / FC7-mm
@dataclass(frozen=True)
class FCMMConfig:
    """FC6-mm / FC7-mm: ImageNet AlexNet/CaffeNet ``layer`` activations + per-attribute linear SVMs."""

    layer: str = "fc7"
    input_size: tuple[int, int] | None = None  # None: the network's own square input (224 or 227)
    batch_size: int = 64
    num_workers: int = 0
    C_grid: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2)
    solver: str = "newton"
    max_iter: int = 50
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.layer not in ("fc6", "fc7"):
            raise ValueError(f"FCMMConfig.layer must be 'fc6' or 'fc7', found {self.layer!r}")

    def features(self) -> FCFeatureConfig:
        """The feature part."""
        return FCFeatureConfig(input_size=self.input_size, batch_size=self.batch_size, num_workers=self.num_workers,
                               device=self.device)

    def svm(self, seed: int = 0) -> SVMConfig:
        """The classifier part."""
        return SVMConfig(C_grid=self.C_grid, solver=self.solver, max_iter=self.max_iter, device=self.device, seed=seed)


FC_MM_PRESETS: Registry[FCMMConfig] = Registry("FC-mm preset")
FC_MM_PRESETS.add("tiny", FCMMConfig(input_size=(64, 64), batch_size=16, C_grid=(0.01, 0.1), max_iter=20))
FC_MM_PRESETS.add("cpu", FCMMConfig(batch_size=32))
FC_MM_PRESETS.add("paper", FCMMConfig(batch_size=128, num_workers=8, C_grid=(1e-6, 1e-5, 1e-4, 1e-3, 1e-2)))


def run_fc_mm(data: AttributeSet, weights: str | os.PathLike, config: FCMMConfig = FCMMConfig(), *,
              cache_dir: Path | None = None, dataset_name: str = "", seed: int = 0,
              progress: bool = False) -> BaselineResult:
    """FC6-mm / FC7-mm on ``data`` with the ImageNet weights at ``weights`` (a local file)."""
    check_splits(data)
    indices = split_union(data)
    timings: dict[str, float] = {}
    with timed(timings, "features"):
        features = fc_features(data, indices, weights, config.layer, config=config.features(), cache_dir=cache_dir,
                               dataset_name=dataset_name, progress=progress)
    result = svm_on_features(data, features, indices, config.svm(seed), timings)
    result.info["config"] = asdict(config)
    result.info["weights"] = str(weights)
    return result

