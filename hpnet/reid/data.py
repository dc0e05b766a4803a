"""ReID data for training and evaluation: images resized once (`ImageStore`), image datasets with the training
augmentation, the held-out validation images of training identities, and the P×K identity batch sampler.

Checkpoints are selected on held-out images of the *training* identities (`holdout_split`), never on the
test query/gallery: every training identity with at least ``min_images`` images gives ``per_identity``
random images to the validation set; the rest train. Validation accuracy is the identity-classification
top-1 of the softmax head on those images.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from pa100k.attribute_set import open_image

logger = logging.getLogger(__name__)

ImageRef = Path | bytes


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    if len(size) != 2 or min(int(s) for s in size) < 1:
        raise ValueError(f"size must be (H, W) with positive values, found {tuple(size)}")
    return int(size[0]), int(size[1])


class _Decode(Dataset):
    """Image ``i`` of ``refs`` decoded and resized to ``size`` (bilinear, antialiased) as a uint8 (3, H, W) tensor."""

    def __init__(self, refs: Sequence[ImageRef], names: Sequence[str], size: tuple[int, int]) -> None:
        self.refs, self.names, self.size = refs, names, size

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image

        image = open_image(self.refs[i], name=self.names[i]).resize((self.size[1], self.size[0]), Image.BILINEAR)
        return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def _stack(items: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(items)


class ImageStore:
    """Images resized to the model's input ``size`` (H, W): decoded once into a uint8 (N, 3, H, W) tensor
    (``cache=True``, fine for the synthetic sets and VIPeR/CUHK03 at 128×64) or decoded on every access.

    ``names`` label images in error messages (default ``image[i]``).
    """

    def __init__(self, refs: Sequence[ImageRef], size: Sequence[int], *, names: Sequence[str] | None = None,
                 cache: bool = True, num_workers: int = 0, progress: bool = False, desc: str = "images") -> None:
        from tqdm.auto import tqdm

        self.size = _check_size(size)
        self.refs = list(refs)
        self.names = list(names) if names is not None else [f"image[{i}]" for i in range(len(self.refs))]
        if len(self.names) != len(self.refs):
            raise ValueError(f"ImageStore: {len(self.names)} names for {len(self.refs)} images")
        self._decode = _Decode(self.refs, self.names, self.size)
        self.images: torch.Tensor | None = None
        if cache:
            self.images = torch.empty((len(self.refs), 3, *self.size), dtype=torch.uint8)
            loader = DataLoader(self._decode, batch_size=64, num_workers=num_workers, collate_fn=_stack)
            pos = 0
            for batch in tqdm(loader, desc=f"decode {desc}", disable=not progress, leave=False):
                self.images[pos:pos + len(batch)] = batch
                pos += len(batch)
            logger.info("decoded %d %s at %s (%.0f MB)", len(self.refs), desc, self.size, self.images.numel() / 2**20)

    def __len__(self) -> int:
        return len(self.refs)

    def get(self, i: int) -> torch.Tensor:
        """Image ``i`` as a uint8 (3, H, W) tensor."""
        return self.images[i] if self.images is not None else self._decode[i]


class ReIDImageDataset(Dataset):
    """Items ``(image float (3, H, W), label int64)`` of ``store`` (rows ``indices``, all by default).

    ``train`` adds a random horizontal flip (probability ``hflip``) and, with ``pad > 0``, a random
    translation by up to ``pad`` pixels (zero padding after normalisation, i.e. the mean colour, then a
    random crop back to size). ``labels`` are the identity classes (``-1`` for every item when None).
    """

    def __init__(self, store: ImageStore, labels: Sequence[int] | np.ndarray | None = None,
                 indices: Sequence[int] | np.ndarray | None = None, *, mean: Sequence[float], std: Sequence[float],
                 train: bool = False, hflip: float = 0.5, pad: int = 0) -> None:
        self.store = store
        self.indices = np.arange(len(store)) if indices is None else np.asarray(indices, dtype=np.int64)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= len(store)):
            raise ValueError(f"indices must lie in 0..{len(store) - 1}, found {self.indices.min()}..{self.indices.max()}")
        if labels is None:
            self.labels = np.full(len(self.indices), -1, dtype=np.int64)
        else:
            all_labels = np.asarray(labels, dtype=np.int64)
            if all_labels.shape != (len(store),):
                raise ValueError(f"labels must hold one class per stored image ({len(store)}), found shape {all_labels.shape}")
            self.labels = all_labels[self.indices]
        if pad < 0:
            raise ValueError(f"pad must be >= 0, found {pad}")
        self.train, self.hflip, self.pad = train, hflip, int(pad)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.store.get(int(self.indices[k]))
        if self.train and self.hflip > 0 and torch.rand(()) < self.hflip:
            image = image.flip(-1)
        x = (image.float() / 255.0 - self.mean) / self.std
        if self.train and self.pad:
            h, w = x.shape[-2:]
            x = F.pad(x, (self.pad,) * 4)
            top, left = (int(v) for v in torch.randint(0, 2 * self.pad + 1, (2,)))
            x = x[:, top:top + h, left:left + w]
        return x, torch.tensor(self.labels[k], dtype=torch.int64)


def holdout_split(labels: Sequence[int] | np.ndarray, *, per_identity: int = 1, min_images: int = 5,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train_indices, val_indices)``: ``per_identity`` random images of each identity with at least
    ``min_images`` images are held out for checkpoint selection (``per_identity=0`` holds out nothing)."""
    y = np.asarray(labels, dtype=np.int64)
    if per_identity < 0:
        raise ValueError(f"per_identity must be >= 0, found {per_identity}")
    if min_images <= per_identity:
        raise ValueError(f"min_images must exceed per_identity ({per_identity}) so every identity keeps training "
                         f"images, found {min_images}")
    rng = np.random.default_rng(seed)
    val: list[int] = []
    if per_identity:
        for label in np.unique(y):
            idx = np.flatnonzero(y == label)
            if len(idx) >= min_images:
                val.extend(rng.choice(idx, size=per_identity, replace=False).tolist())
    val_idx = np.sort(np.asarray(val, dtype=np.int64))
    train_idx = np.setdiff1d(np.arange(len(y)), val_idx)
    return train_idx, val_idx


class IdentityBatchSampler(Sampler[list[int]]):
    """Batches of ``batch_size // instances`` identities × ``instances`` images each (P×K sampling for the
    batch-hard triplet loss); identities with fewer images are drawn with replacement. Seeded per epoch
    with ``seed`` (call ``set_epoch`` before iterating)."""

    def __init__(self, labels: Sequence[int] | np.ndarray, batch_size: int, instances: int, *, num_batches: int,
                 seed: int = 0) -> None:
        if instances < 2:
            raise ValueError(f"instances must be >= 2 (a triplet needs a positive), found {instances}")
        if batch_size < 2 * instances:
            raise ValueError(f"batch_size must hold at least two identities of {instances} images, found {batch_size}")
        self.labels = np.asarray(labels, dtype=np.int64)
        self.ids = np.unique(self.labels)
        if len(self.ids) < 2:
            raise ValueError(f"P×K sampling needs at least two identities, found {len(self.ids)}")
        self.by_id = {int(p): np.flatnonzero(self.labels == p) for p in self.ids}
        self.per_batch = min(batch_size // instances, len(self.ids))
        self.instances, self.num_batches, self.seed, self.epoch = instances, num_batches, seed, 0

    def __len__(self) -> int:
        return self.num_batches

    def set_epoch(self, epoch: int) -> None:
        """Draw the batches of ``epoch`` on the next pass (as `DistributedSampler.set_epoch`)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        for _ in range(self.num_batches):
            batch: list[int] = []
            for p in rng.choice(self.ids, size=self.per_batch, replace=False):
                pool = self.by_id[int(p)]
                batch.extend(rng.choice(pool, size=self.instances, replace=len(pool) < self.instances).tolist())
            yield batch


def image_names(items: Sequence[tuple], subset: str) -> list[str]:
    """File names of a ReID subset (the leaderboard's keys); ``{subset}_{i:06d}`` for images held as bytes.

    Where two files share a name, the parent folder is prepended; names that still clash raise.
    """
    names = [ref.name if isinstance(ref, Path) else f"{subset}_{i:06d}" for i, (ref, *_rest) in enumerate(items)]
    if len(set(names)) != len(names):
        names = [f"{ref.parent.name}/{ref.name}" if isinstance(ref, Path) else n
                 for n, (ref, *_rest) in zip(names, items)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{subset}: two images are both named {name!r}; the submission format needs unique names")
        seen.add(name)
    return names
