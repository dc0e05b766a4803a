"""Datasets for training: `pa100k.torch.AttributeDataset` with the model's transform, or an in-memory cache of the resized images.

The cache stores each image once as uint8 at the model's input size and applies the rest of
`pa100k.torch.build_transform` (random flip for training, scaling to [0, 1], normalisation) per item, so
it yields exactly what ``build_transform(size, train)`` would, without decoding JPEGs every epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)


def image_dataset(attribute_set: AttributeSet, split: str, size: Sequence[int], *, train: bool,
                  mean: Sequence[float], std: Sequence[float], pad: int = 0) -> Dataset:
    """``pa100k.torch.AttributeDataset`` of ``split`` with ``build_transform(size, train, pad=pad)``."""
    from pa100k.torch import AttributeDataset, build_transform

    transform = build_transform(tuple(size), train=train, mean=mean, std=std, pad=pad)
    return AttributeDataset(attribute_set, split, transform)


def _stack_images(items: list) -> torch.Tensor:
    return torch.stack([item[0] for item in items])


class ImageCache:
    """Every image of one split resized to ``size`` and kept as uint8 (N, 3, H, W), with labels and masks."""

    def __init__(self, attribute_set: AttributeSet, split: str, size: Sequence[int], *, num_workers: int = 0,
                 progress: bool = False) -> None:
        from torchvision.transforms import v2
        from tqdm.auto import tqdm

        from pa100k.torch import AttributeDataset

        resize = v2.Compose([v2.ToImage(), v2.Resize(tuple(size), antialias=True)])
        dataset = AttributeDataset(attribute_set, split, resize)
        n = len(dataset)
        self.split = split
        self.size = tuple(size)
        self.indices = dataset.indices
        self.names = [str(attribute_set.names[i]) for i in dataset.indices]
        self.images = torch.empty((n, 3, *self.size), dtype=torch.uint8)
        self.labels = torch.from_numpy(attribute_set.labels[dataset.indices].astype(np.float32))
        self.masks = torch.from_numpy(attribute_set.known()[dataset.indices].copy())
        loader = DataLoader(dataset, batch_size=64, shuffle=False, num_workers=num_workers,
                            collate_fn=_stack_images)
        pos = 0
        for batch in tqdm(loader, desc=f"cache {split}", disable=not progress, leave=False):
            self.images[pos:pos + len(batch)] = batch
            pos += len(batch)
        logger.info("cached %d %s images at %s (%.0f MB)", n, split, self.size, self.images.numel() / 2**20)

    def __len__(self) -> int:
        return len(self.images)


class CachedImageDataset(Dataset):
    """Items ``(image, labels, mask)`` from an `ImageCache`: for ``train`` random flip and, with ``pad`` > 0,
    zero-padding by ``pad`` pixels and a random crop back to size (``build_transform``'s ``pad``); then
    scaling to [0, 1] and normalisation."""

    def __init__(self, cache: ImageCache, *, train: bool, mean: Sequence[float], std: Sequence[float],
                 hflip: float = 0.5, pad: int = 0) -> None:
        if pad < 0:
            raise ValueError(f"pad must be >= 0, found {pad}")
        self.cache = cache
        self.train = train
        self.hflip = hflip
        self.pad = pad
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        image = self.cache.images[k]
        if self.train and self.pad > 0:
            h, w = image.shape[-2:]
            padded = torch.nn.functional.pad(image, (self.pad,) * 4)
            top, left = (int(v) for v in torch.randint(0, 2 * self.pad + 1, (2,)))
            image = padded[:, top:top + h, left:left + w]
        if self.train and self.hflip > 0 and torch.rand(()) < self.hflip:
            image = image.flip(-1)
        image = (image.float() / 255.0 - self.mean) / self.std
        return image, self.cache.labels[k], self.cache.masks[k]
