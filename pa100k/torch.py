"""PyTorch access to an `AttributeSet`: a map-style dataset, the standard transforms and a collate that keeps metadata.

Like torchvision's ``CelebA``: the split is checked once in ``__init__``, items are
``(image, labels, mask)`` and ``attr_names`` is public. Images are opened lazily, one per item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from pa100k.attribute_set import AttributeSet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_SIZE = (256, 192)  # (H, W), as Rethinking_of_PAR
PAPER_SIZE = (224, 224)  # square input of the HP-net paper preset


def build_transform(
    size: tuple[int, int] = DEFAULT_SIZE,
    train: bool = False,
    *,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    hflip: float = 0.5,
    pad: int = 0,
) -> v2.Compose:
    """PIL image → normalised float tensor (3, H, W): resize to ``size``; for training also flip (and pad + crop).

    ``pad`` > 0 adds Rethinking_of_PAR's augmentation (pad by ``pad`` pixels, random crop back to ``size``).
    """
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"size must be (height, width) with positive values, found {size!r}")
    steps: list[Any] = [v2.ToImage(), v2.Resize(tuple(size), antialias=True)]
    if train:
        if pad > 0:
            steps += [v2.Pad(pad), v2.RandomCrop(tuple(size))]
        if hflip > 0:
            steps.append(v2.RandomHorizontalFlip(hflip))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(steps)


class Sample(tuple):
    """``(image, labels, mask)`` that also carries the row ``index``, the image ``name`` and its ``meta``."""

    index: int
    name: str
    meta: dict[str, Any]

    def __new__(  # noqa: PYI034 (typing.Self needs Python 3.11; the project supports 3.10)
        cls, image: Any, labels: torch.Tensor, mask: torch.Tensor, *, index: int, name: str,
        meta: dict[str, Any] | None = None,
    ) -> Sample:
        obj = super().__new__(cls, (image, labels, mask))
        obj.index, obj.name, obj.meta = index, name, dict(meta or {})
        return obj

    def __getnewargs_ex__(self):
        return tuple(self), {"index": self.index, "name": self.name, "meta": self.meta}


class AttributeDataset(Dataset):
    """One split of an `AttributeSet` as a PyTorch dataset.

    Each item is ``(image, labels, mask)``: ``image`` is what ``transform`` makes of the RGB PIL image (a float
    tensor (3, H, W) with `build_transform`; without a transform the image scaled to [0, 1]), ``labels`` a
    float32 tensor (A,) of 0/1, ``mask`` a bool tensor (A,) that is False where the label is unknown (RAP's 2).
    Items also carry ``index`` (row in the set), ``name`` and meta columns, which `collate` keeps.
    """

    def __init__(
        self,
        attribute_set: AttributeSet,
        split: str | None = "train",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        try:
            self.indices = attribute_set.split_indices(split)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        self.attribute_set = attribute_set
        self.split = split
        self.transform = transform if transform is not None else v2.Compose(
            [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
        )
        self.target_transform = target_transform
        self._labels = torch.from_numpy(attribute_set.labels.astype(np.float32))
        self._mask = torch.from_numpy(attribute_set.known().copy())

    @property
    def attr_names(self) -> tuple[str, ...]:
        """Attribute names in label order."""
        return self.attribute_set.attribute_names

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Sample:
        if not -len(self) <= k < len(self):
            raise IndexError(f"index {k} out of range for {len(self)} images of split {self.split!r}")
        i = int(self.indices[k])
        image = self.transform(self.attribute_set.open_image(i))
        labels = self._labels[i]
        if self.target_transform is not None:
            labels = self.target_transform(labels)
        meta = {key: col[i].item() if hasattr(col[i], "item") else col[i] for key, col in self.attribute_set.meta.items()}
        return Sample(image, labels, self._mask[i], index=i, name=str(self.attribute_set.names[i]), meta=meta)

    def __repr__(self) -> str:
        return (f"AttributeDataset({self.attribute_set.dataset or 'dataset'}, split={self.split!r}, "
                f"images={len(self)}, attributes={len(self.attr_names)})")


def collate(batch: Sequence[Sample]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Stack a list of items into ``(images, labels, masks, meta)``; meta has ``index``, ``name`` and meta columns."""
    if not batch:
        raise ValueError("collate: empty batch")
    images = [b[0] for b in batch]
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"collate: images of one batch have different shapes {sorted(shapes)}; use a transform that resizes "
            "(pa100k.torch.build_transform)"
        )
    meta: dict[str, Any] = {
        "index": torch.tensor([getattr(b, "index", -1) for b in batch], dtype=torch.int64),
        "name": [getattr(b, "name", "") for b in batch],
    }
    for key in getattr(batch[0], "meta", {}):
        values = [b.meta[key] for b in batch]
        meta[key] = torch.tensor(values) if all(isinstance(v, (int, float, bool)) for v in values) else values
    return torch.stack(images), torch.stack([b[1] for b in batch]), torch.stack([b[2] for b in batch]), meta
