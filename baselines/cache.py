"""A per-dataset feature cache: one ``.npz`` per (dataset, feature kind, images, feature config).

The file name carries a digest of the feature config and of the image names in order; the config
should also name what distinguishes two datasets with the same file names (the data root, a digest of
the labels: see `dataset_fingerprint`). Each file stores the names again and is checked on reading.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.fileio import atomic_path

logger = logging.getLogger(__name__)


def dataset_fingerprint(data: AttributeSet, indices: np.ndarray) -> dict[str, str]:
    """What tells apart two datasets whose images have the same names: the root folder and a label digest."""
    labels = np.ascontiguousarray(data.labels[indices])
    return {"root": str(data.root or ""), "labels": hashlib.sha256(labels.tobytes()).hexdigest()[:16]}


def feature_cache_path(cache_dir: Path | None, dataset: str, kind: str, names: Sequence[str],
                       config: dict[str, Any]) -> Path | None:
    """Where the ``kind`` features of ``names`` live under ``cache_dir`` (None: no cache)."""
    if cache_dir is None:
        return None
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for name in names:
        digest.update(b"\0" + str(name).encode())
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset or "dataset")
    return Path(cache_dir) / "features" / f"{safe}-{kind}-{digest.hexdigest()[:20]}.npz"


def read_features(path: Path | None, names: Sequence[str]) -> np.ndarray | None:
    """The stored features at ``path`` if the file exists, reads and holds exactly ``names``; else None."""
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if np.array_equal(stored["names"], np.asarray(names, dtype=str)):
                logger.info("features: read %s", path)
                return stored["features"]
        logger.warning("%s: stored image names differ from the request; recomputing", path)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        logger.warning("%s: unreadable feature cache (%s); recomputing", path, exc)
    return None


def write_features(path: Path | None, features: np.ndarray, names: Sequence[str], config: dict[str, Any]) -> None:
    """Store ``features`` (one row per name) at ``path`` atomically; nothing when ``path`` is None."""
    if path is None:
        return
    with atomic_path(path) as tmp:
        np.savez(tmp, features=features, names=np.asarray(names, dtype=str),
                 config=json.dumps(config, sort_keys=True, default=str))
    logger.info("features: wrote %s", path)


def cached_features(
    cache_dir: Path | None,
    dataset: str,
    kind: str,
    names: Sequence[str],
    config: dict[str, Any],
    compute: Callable[[], np.ndarray],
) -> np.ndarray:
    """Features of ``names`` from the cache, or ``compute()`` them (one row per name, in order) and store them."""
    path = feature_cache_path(cache_dir, dataset, kind, names, config)
    features = read_features(path, names)
    if features is not None:
        return features
    features = np.asarray(compute())
    if features.ndim != 2 or len(features) != len(names):
        raise ValueError(f"{kind} features must have shape ({len(names)}, D), found {features.shape}")
    write_features(path, features, names, config)
    return features
