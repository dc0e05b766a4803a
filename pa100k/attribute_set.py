"""`AttributeSet`: the one in-memory form of an attribute dataset (images + labels + schema + splits)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pa100k.schemas import AttributeSchema

SPLIT_NAMES = ("train", "val", "test", "trainval")
META_COLUMNS = ("tracklet", "identity", "camera", "scene")

ImageRef = "Path | bytes"


class ImageDecodeError(ValueError):
    """An image file or blob that cannot be decoded."""


def open_image(ref: Path | str | bytes, name: str = "<bytes>"):
    """Open ``ref`` (a path or encoded bytes) as an RGB PIL image, naming it in any error."""
    from PIL import Image, UnidentifiedImageError

    where = str(ref) if not isinstance(ref, (bytes, bytearray)) else name
    try:
        if isinstance(ref, (bytes, bytearray)):
            img = Image.open(io.BytesIO(ref))
        else:
            img = Image.open(ref)
        img.load()
        return img.convert("RGB")
    except FileNotFoundError:
        raise FileNotFoundError(f"image {where}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"image {where}: cannot be decoded ({exc})") from exc


@dataclass
class AttributeSet:
    """Images, an ``(N, A)`` uint8 label matrix, an optional known-label mask, a schema and named splits.

    ``names`` are the image file names as the release lists them (``000001.jpg``); they are the key of
    the leaderboard's submission format. ``images`` holds, per image, a path or the encoded bytes.
    ``mask[i, j]`` is False where the label is unknown (RAP's 2); such entries hold 0 in ``labels`` and
    are excluded from every metric. ``splits`` maps split names to 0-based index arrays. ``meta`` holds
    optional per-image integer columns: ``tracklet``, ``identity``, ``camera``, ``scene``.
    """

    schema: AttributeSchema
    names: np.ndarray
    images: Sequence
    labels: np.ndarray
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    mask: np.ndarray | None = None
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    dataset: str = ""
    root: Path | None = None

    def __post_init__(self) -> None:
        self.names = np.asarray(self.names, dtype=str)
        self.labels = np.asarray(self.labels)
        n = len(self.names)
        if self.labels.ndim != 2 or self.labels.shape != (n, self.schema.num_attributes):
            raise ValueError(
                f"{self.dataset or 'AttributeSet'}: labels must have shape ({n}, {self.schema.num_attributes}), "
                f"found {self.labels.shape}"
            )
        if not np.isin(self.labels, (0, 1)).all():
            bad = sorted(set(np.unique(self.labels).tolist()) - {0, 1})
            raise ValueError(f"{self.dataset or 'AttributeSet'}: labels must be 0/1, found values {bad}")
        self.labels = self.labels.astype(np.uint8, copy=False)
        if len(self.images) != n:
            raise ValueError(f"{self.dataset or 'AttributeSet'}: {len(self.images)} images for {n} names")
        if self.mask is not None:
            self.mask = np.asarray(self.mask, dtype=bool)
            if self.mask.shape != self.labels.shape:
                raise ValueError(f"mask must have shape {self.labels.shape}, found {self.mask.shape}")
        splits = {}
        for key, idx in self.splits.items():
            idx = np.asarray(idx, dtype=np.int64)
            if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n)):
                raise ValueError(f"split {key!r}: indices must be 1-D and within [0, {n}), found bad values")
            splits[key] = idx
        if "trainval" not in splits and "train" in splits and "val" in splits:
            splits["trainval"] = np.concatenate([splits["train"], splits["val"]])
        self.splits = splits
        meta = {}
        for key, col in self.meta.items():
            col = np.asarray(col)
            if col.shape != (n,):
                raise ValueError(f"meta column {key!r} must have shape ({n},), found {col.shape}")
            meta[key] = col
        self.meta = meta

    def __len__(self) -> int:
        return len(self.names)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Attribute names in column order."""
        return self.schema.attributes

    def split_indices(self, split: str | None) -> np.ndarray:
        """Indices of ``split`` (``None`` or ``"all"``: every image); unknown splits list the valid ones."""
        if split is None or split == "all":
            return np.arange(len(self), dtype=np.int64)
        if split not in self.splits:
            raise KeyError(
                f"{self.dataset or 'AttributeSet'} has no split {split!r}; valid: {', '.join(sorted(self.splits)) or '(none)'}, all"
            )
        return self.splits[split]

    def known(self) -> np.ndarray:
        """The known-label mask, all True when the dataset has no unknown labels."""
        return self.mask if self.mask is not None else np.ones(self.labels.shape, dtype=bool)

    def select(self, indices: np.ndarray, splits: dict[str, np.ndarray] | None = None) -> AttributeSet:
        """A new set with the images at ``indices`` (in that order); ``splits`` are indices into the result."""
        indices = np.asarray(indices, dtype=np.int64)
        return AttributeSet(
            schema=self.schema,
            names=self.names[indices],
            images=[self.images[i] for i in indices],
            labels=self.labels[indices],
            splits=splits or {},
            mask=None if self.mask is None else self.mask[indices],
            meta={k: v[indices] for k, v in self.meta.items()},
            dataset=self.dataset,
            root=self.root,
        )

    def subset(self, split: str) -> AttributeSet:
        """The images of one split, as a set without splits."""
        return self.select(self.split_indices(split))

    def with_splits(self, splits: dict[str, np.ndarray]) -> AttributeSet:
        """The same images with other splits."""
        return AttributeSet(
            schema=self.schema, names=self.names, images=self.images, labels=self.labels, splits=splits,
            mask=self.mask, meta=self.meta, dataset=self.dataset, root=self.root,
        )

    def open_image(self, i: int):
        """Image ``i`` as an RGB PIL image; decoding errors name the image."""
        ref = self.images[i]
        return open_image(ref, name=f"{self.dataset}:{self.names[i]}")

    def positive_ratio(self, split: str | None = None) -> np.ndarray:
        """Share of positive known labels per attribute in ``split`` (NaN where no label is known)."""
        idx = self.split_indices(split)
        known = self.known()[idx]
        pos = (self.labels[idx].astype(bool) & known).sum(0)
        cnt = known.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 0, pos / np.maximum(cnt, 1), np.nan)

    def split_of(self) -> np.ndarray:
        """Per image, the name of the (first) of train/val/test that holds it, or '' if none."""
        out = np.full(len(self), "", dtype=object)
        for key in ("test", "val", "train"):
            if key in self.splits:
                out[self.splits[key]] = key
        return out

    def to_pandas(self):
        """A DataFrame with one row per image: name, split, meta columns and one column per attribute."""
        import pandas as pd

        cols: dict[str, object] = {"image": self.names, "split": self.split_of()}
        cols.update(self.meta)
        df = pd.DataFrame(cols)
        labels = pd.DataFrame(self.labels, columns=list(self.schema.attributes))
        if self.mask is not None:
            labels = labels.astype("Int8").mask(~self.mask)
        return pd.concat([df, labels], axis=1)

    def summary(self) -> str:
        """A short table: images per split and the number of attributes."""
        lines = [f"{self.dataset or 'dataset'}: {len(self)} images, {self.schema.num_attributes} attributes ({self.schema.name})"]
        for key in SPLIT_NAMES:
            if key in self.splits:
                lines.append(f"  {key:<9} {len(self.splits[key]):>7}")
        return "\n".join(lines)
