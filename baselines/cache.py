"""A per-dataset feature cache: one ``.npz`` per (dataset, feature kind, image names, feature config)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pa100k.fileio import atomic_path

logger = logging.getLogger(__name__)


def feature_key(names: Sequence[str], config: dict[str, Any]) -> str:
    """A hex digest of the image names (in order) and the JSON form of the feature config."""
    digest = hashlib.sha256()
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name in names:
        digest.update(b"\0" + str(name).encode())
    return digest.hexdigest()[:20]


def feature_cache_path(cache_dir: Path | None, dataset: str, kind: str, names: Sequence[str],
                       config: dict[str, Any]) -> Path | None:
    """Where the features of ``kind`` for ``names`` live under ``cache_dir`` (None: no cache)."""
    if cache_dir is None:
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset or "dataset")
    return Path(cache_dir) / "features" / f"{safe}-{kind}-{feature_key(names, config)}.npz"


def cached_features(
    cache_dir: Path | None,
    dataset: str,
    kind: str,
    names: Sequence[str],
    config: dict[str, Any],
    compute: Callable[[], np.ndarray],
) -> np.ndarray:
    """Features of ``names`` from the cache, or ``compute()`` them and store them atomically.

    ``compute`` must return an array with one row per name, in the order of ``names``. A cache file that
    cannot be read or whose stored names differ is recomputed and replaced (with a warning).
    """
    path = feature_cache_path(cache_dir, dataset, kind, names, config)
    names = np.asarray(names, dtype=str)
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                if np.array_equal(stored["names"], names):
                    logger.info("%s features: read %s", kind, path)
                    return stored["features"]
                logger.warning("%s: stored image names differ from the request; recomputing", path)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            logger.warning("%s: unreadable feature cache (%s); recomputing", path, exc)
    features = np.asarray(compute())
    if features.ndim != 2 or len(features) != len(names):
        raise ValueError(f"{kind} features must have shape ({len(names)}, D), found {features.shape}")
    if path is not None:
        with atomic_path(path) as tmp:
            np.savez(tmp, features=features, names=names, config=json.dumps(config, sort_keys=True, default=str))
        logger.info("%s features: wrote %s", kind, path)
    return features
