"""fc6 / fc7 activations of an ImageNet AlexNet or CaffeNet read from a local weights file (FC6-mm, FC7-mm).

The RAP paper's FC6-mm / FC7-mm baselines take CaffeNet's fc6 / fc7 activations (after ReLU) of the
whole pedestrian image, resized to the network's square input, and train one linear SVM per attribute
on them. The weights must come from a file on disk; without one `require_weights` stops with an error
that says so (random weights would give meaningless features). Both layers come out of one forward pass
and are cached separately per dataset (`baselines.cache`), keyed by the weights file's digest.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from baselines.alexnet import AlexNetTrunk, load_trunk
from baselines.cache import dataset_fingerprint, feature_cache_path, read_features, write_features
from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)

FC_LAYERS = ("fc6", "fc7")


class WeightsRequiredError(ValueError):
    """A method that needs pretrained weights was run without a weights file."""


def require_weights(weights: str | os.PathLike | None, method: str) -> Path:
    """``weights`` as an existing file; None raises `WeightsRequiredError`, a missing file FileNotFoundError."""
    if weights is None:
        raise WeightsRequiredError(
            f"{method} needs ImageNet AlexNet/CaffeNet weights from a local file: pass --weights PATH (a torchvision "
            f"alexnet state dict, or a CaffeNet state dict with conv1..fc7 keys, as .pth or .safetensors). "
            f"Random weights are never used and nothing is downloaded."
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file for {method} not found")
    return path


def file_digest(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes (hex, 16 characters): the feature cache's key for a weights file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class FCFeatureConfig:
    """How the images are fed: ``input_size`` (H, W; None = the layout's 224 or 227 square), batch and loader sizes."""

    input_size: tuple[int, int] | None = None
    batch_size: int = 64
    num_workers: int = 0
    device: str = "auto"


@torch.no_grad()
def extract_fc(trunk: AlexNetTrunk, data: AttributeSet, indices: np.ndarray, *,
               config: FCFeatureConfig = FCFeatureConfig(), layers: Sequence[str] = FC_LAYERS,
               progress: bool = False) -> dict[str, np.ndarray]:
    """fc6/fc7 activations (after ReLU) of ``data``'s images at ``indices``, float32 (N, D) per layer, in order."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from hpnet.engine import resolve_device
    from pa100k.torch import AttributeDataset, build_transform, collate

    unknown = sorted(set(layers) - set(FC_LAYERS))
    if unknown:
        raise ValueError(f"layers must be among {FC_LAYERS}, found {unknown}")
    layout = trunk.layout
    size = tuple(config.input_size or layout.input_size)
    subset = data.select(np.asarray(indices, dtype=np.int64))
    dataset = AttributeDataset(subset, None, build_transform(size, train=False, mean=layout.mean, std=layout.std))
    device = resolve_device(config.device)
    trunk = trunk.to(device).eval()
    out: dict[str, list[np.ndarray]] = {layer: [] for layer in layers}
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=False, num_workers=config.num_workers,
                        collate_fn=collate)
    for batch in tqdm(loader, desc=f"{layout.name} {'+'.join(layers)}", disable=not progress, leave=False):
        feats = trunk.forward_fc(batch[0].to(device))
        for layer in layers:
            out[layer].append(feats[layer].float().cpu().numpy())
    dims = {"fc6": trunk.spec.fc[0], "fc7": trunk.spec.fc[1]}
    return {layer: np.concatenate(v) if v else np.zeros((0, dims[layer]), np.float32) for layer, v in out.items()}


def fc_features(
    data: AttributeSet,
    indices: np.ndarray,
    weights: str | os.PathLike,
    layer: str,
    *,
    config: FCFeatureConfig = FCFeatureConfig(),
    cache_dir: Path | None = None,
    dataset_name: str = "",
    progress: bool = False,
) -> np.ndarray:
    """``layer`` ("fc6" or "fc7") features of the images at ``indices``, from the cache or computed.

    A computation fills the cache of both layers (one forward pass gives both).
    """
    if layer not in FC_LAYERS:
        raise ValueError(f"layer must be one of {FC_LAYERS}, found {layer!r}")
    weights = require_weights(weights, "fc_features")
    indices = np.asarray(indices, dtype=np.int64)
    names = data.names[indices]
    key = {"weights": file_digest(weights), "input_size": config.input_size, **dataset_fingerprint(data, indices)}
    paths = {name: feature_cache_path(cache_dir, dataset_name or data.dataset, name, names, {**key, "layer": name})
             for name in FC_LAYERS}
    cached = read_features(paths[layer], names)
    if cached is not None:
        return cached
    trunk = load_trunk(weights)
    feats = extract_fc(trunk, data, indices, config=config, progress=progress)
    for name, array in feats.items():
        write_features(paths[name], array, names, {**key, "layer": name})
    return feats[layer]
