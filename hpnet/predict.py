"""Attribute probabilities for image files from a checkpoint folder, written in the leaderboard's submission format.

The CSV has a header ``image,<attribute 1>,...,<attribute A>`` and one row per image: the file name (the
leaderboard's key, e.g. ``000001.jpg``) then one probability in [0, 1] per attribute, in schema order.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hpnet.engine import resolve_device
from pa100k.attribute_set import open_image
from pa100k.fileio import atomic_write

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class Predictions:
    """Per image its file name, and probabilities (N, A) float32 for ``attributes``."""

    names: list[str]
    paths: list[Path]
    probabilities: np.ndarray
    attributes: tuple[str, ...]


def expand_images(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Image paths from files and folders (a folder contributes its image files, sorted by name)."""
    out: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not files:
                raise FileNotFoundError(f"{path}: folder holds no image file ({', '.join(IMAGE_SUFFIXES)})")
            out.extend(files)
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"{path}: image file not found")
    if not out:
        raise ValueError("no image given")
    return out


def attribute_names(model: nn.Module) -> tuple[str, ...]:
    """The model's attribute names (from its config), or ``attr0..`` when the checkpoint names none."""
    config = model.config  # type: ignore[attr-defined]
    return tuple(config.attributes) if config.attributes else tuple(f"attr{j}" for j in range(config.num_classes))


def eval_transform(model: nn.Module):
    """The model's evaluation transform (resize to its input size, normalise)."""
    from pa100k.torch import build_transform

    cfg = model.config  # type: ignore[attr-defined]
    return build_transform(tuple(cfg.input_size), train=False, mean=cfg.mean, std=cfg.std)


@torch.no_grad()
def predict_images(model: nn.Module, images: Sequence[str | os.PathLike], *, batch_size: int = 32,
                   device: str = "auto") -> Predictions:
    """Probabilities for every image; an image that cannot be decoded raises `pa100k.ImageDecodeError` naming it."""
    paths = expand_images(images)
    transform = eval_transform(model)
    dev = resolve_device(device)
    model = model.to(dev).eval()
    probs = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        batch = torch.stack([transform(open_image(p)) for p in chunk]).to(dev)
        probs.append(torch.sigmoid(model(batch).float()).cpu().numpy())
    return Predictions([p.name for p in paths], paths, np.concatenate(probs).astype(np.float32), attribute_names(model))


def write_predictions_csv(predictions: Predictions, path: str | os.PathLike) -> Path:
    """Write ``image`` + one probability column per attribute; duplicate file names raise (they are the key)."""
    seen: dict[str, Path] = {}
    for name, p in zip(predictions.names, predictions.paths):
        if name in seen:
            raise ValueError(f"two images share the file name {name!r} ({seen[name]} and {p}); names are the submission key")
        seen[name] = p
    path = Path(path)
    with atomic_write(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["image", *predictions.attributes])
        for name, row in zip(predictions.names, predictions.probabilities):
            writer.writerow([name, *(f"{v:.6f}" for v in row)])
    logger.info("wrote %d predictions to %s", len(predictions.names), path)
    return path
