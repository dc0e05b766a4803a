"""`ReIDSet` (train / query / gallery lists of ``(image, pid, camid)``), the ReID dataset registry and JSTL merging.

Conventions shared by every loader (see each loader's docstring for the protocol it follows):

- ``image`` is a :class:`~pathlib.Path` (or encoded image bytes); ``camid`` is 0-based.
- ``train`` pids are relabelled ``0 .. num_train_pids - 1`` (softmax classes).
- ``query`` and ``gallery`` keep the dataset's own ("raw") person ids, all ``>= 1``; pid ``0`` in the
  gallery is a distractor (never a true match, as in Market-1501). Junk (Market-1501 pid ``-1``) never
  appears in a ``ReIDSet``.
- ``protocol`` names the evaluation protocol of ``pa100k.metrics.reid_metrics`` the split is meant for.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pa100k.attribute_set import open_image
from pa100k.fileio import data_home
from pa100k.registry import Registry

log = logging.getLogger(__name__)

ImageRef = Path | bytes
ReIDItem = tuple  # (image: Path | bytes, pid: int, camid: int)
SUBSETS = ("train", "query", "gallery")
PROTOCOLS = ("market1501", "cuhk03_single_shot", "viper")
DEFAULT_REID_DATASET = "synthetic_reid"


def _check_items(dataset: str, subset: str, items: Sequence) -> list[ReIDItem]:
    """Validate and normalise one subset's ``(image, pid, camid)`` tuples."""
    out = []
    for k, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise ValueError(f"{dataset}: {subset}[{k}] must be an (image, pid, camid) tuple, found {item!r}")
        image, pid, camid = item
        if isinstance(image, str):
            image = Path(image)
        if not isinstance(image, (Path, bytes, bytearray)):
            raise TypeError(f"{dataset}: {subset}[{k}] image must be a path or bytes, found {type(image).__name__}")
        if isinstance(pid, bool) or not isinstance(pid, (int, np.integer)):
            raise TypeError(f"{dataset}: {subset}[{k}] pid must be an integer, found {pid!r}")
        if isinstance(camid, bool) or not isinstance(camid, (int, np.integer)):
            raise TypeError(f"{dataset}: {subset}[{k}] camid must be an integer, found {camid!r}")
        if camid < 0:
            raise ValueError(f"{dataset}: {subset}[{k}] camid must be >= 0, found {camid}")
        if pid < 0:
            raise ValueError(f"{dataset}: {subset}[{k}] pid must be >= 0 (junk is dropped by the loaders), found {pid}")
        out.append((image, int(pid), int(camid)))
    return out


@dataclass
class ReIDSet:
    """One ReID split: ``train``, ``query`` and ``gallery`` lists of ``(image, pid, camid)`` (paper Table 3)."""

    name: str
    train: list[ReIDItem]
    query: list[ReIDItem]
    gallery: list[ReIDItem]
    protocol: str = "market1501"
    root: Path | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"{self.name}: protocol must be one of {', '.join(PROTOCOLS)}, found {self.protocol!r}")
        self.train = _check_items(self.name, "train", self.train)
        self.query = _check_items(self.name, "query", self.query)
        self.gallery = _check_items(self.name, "gallery", self.gallery)
        labels = np.unique(self.pids("train"))
        if labels.size and not np.array_equal(labels, np.arange(labels.size)):
            raise ValueError(
                f"{self.name}: train pids must be relabelled to 0..{labels.size - 1}, "
                f"found {labels.size} ids ranging {labels.min()}..{labels.max()}"
            )
        if any(pid == 0 for _, pid, _ in self.query):
            log.warning("%s: %d queries have pid 0 (distractor); they have no true match",
                        self.name, sum(pid == 0 for _, pid, _ in self.query))

    def subset(self, subset: str) -> list[ReIDItem]:
        """The items of ``subset`` ("train", "query" or "gallery")."""
        if subset not in SUBSETS:
            raise KeyError(f"{self.name} has no subset {subset!r}; valid: {', '.join(SUBSETS)}")
        return getattr(self, subset)

    def pids(self, subset: str) -> np.ndarray:
        """Person ids of ``subset`` as an int64 array."""
        return np.array([pid for _, pid, _ in self.subset(subset)], dtype=np.int64)

    def camids(self, subset: str) -> np.ndarray:
        """0-based camera ids of ``subset`` as an int64 array."""
        return np.array([camid for _, _, camid in self.subset(subset)], dtype=np.int64)

    @property
    def num_train_pids(self) -> int:
        """Number of training identities (softmax classes)."""
        return len({pid for _, pid, _ in self.train})

    @property
    def num_train_cams(self) -> int:
        """Number of cameras seen in training."""
        return len({camid for _, _, camid in self.train})

    def open_image(self, subset: str, i: int):
        """Image ``i`` of ``subset`` as an RGB PIL image; errors name the image."""
        image = self.subset(subset)[i][0]
        return open_image(image, name=f"{self.name}:{subset}[{i}]")

    def summary(self) -> str:
        """A table of identities, images and cameras per subset (as torchreid prints it)."""
        rule = "  " + "-" * 42
        lines = [f"{self.name} ({self.protocol} protocol)", rule,
                 f"  {'subset':<8} | {'# ids':>6} | {'# images':>9} | {'# cameras':>9}", rule]
        for subset in SUBSETS:
            items = self.subset(subset)
            ids = len({pid for _, pid, _ in items})
            cams = len({camid for _, _, camid in items})
            lines.append(f"  {subset:<8} | {ids:>6} | {len(items):>9} | {cams:>9}")
        lines.append(rule)
        distractors = int((self.pids("gallery") == 0).sum())
        if distractors:
            lines.append(f"  gallery distractors (pid 0, counted as one id above): {distractors} images")
        return "\n".join(lines)


def relabel(pids: Iterable[int]) -> dict[int, int]:
    """Map the sorted distinct ``pids`` to ``0 .. n-1``."""
    return {pid: label for label, pid in enumerate(sorted({int(p) for p in pids}))}


def merge_train(reidsets: Sequence[ReIDSet]) -> list[tuple[ImageRef, int, int, str]]:
    """Union of the training sets with each dataset's ids offset into one label space (JSTL, paper section 6.1).

    Returns ``(image, pid, camid, dataset)`` tuples; dataset ``k``'s labels start at the sum of the
    ``num_train_pids`` of datasets ``0 .. k-1``; camera ids stay per dataset.
    """
    names = [rs.name for rs in reidsets]
    if len(set(names)) != len(names):
        raise ValueError(f"merge_train: dataset names must be distinct, found {names}")
    merged: list[tuple[ImageRef, int, int, str]] = []
    offset = 0
    for rs in reidsets:
        merged.extend((image, pid + offset, camid, rs.name) for image, pid, camid in rs.train)
        offset += rs.num_train_pids
    return merged


@contextlib.contextmanager
def atomic_directory(target: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder of ``target`` and rename it to ``target`` on success.

    An existing empty ``target`` is replaced. A non-empty one is replaced (after success only) when
    ``replace`` is true; otherwise, if another process created it meanwhile, that copy is kept and
    ours is discarded.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        with contextlib.suppress(OSError):
            target.rmdir()  # an empty placeholder folder
        if replace and target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
            return
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
            log.info("%s was written by another process meanwhile; keeping that copy", target)
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


ReIDLoader = Callable[..., ReIDSet]
REID_DATASETS: Registry[ReIDLoader] = Registry("ReID dataset")


def register_reid(name: str) -> Callable[[ReIDLoader], ReIDLoader]:
    """Decorator registering a loader ``fn(root: Path, **options) -> ReIDSet``."""
    return REID_DATASETS.register(name)


def list_reid_datasets() -> list[str]:
    """Names of the registered ReID datasets."""
    return REID_DATASETS.names()


def load_reid(name: str = DEFAULT_REID_DATASET, root: str | Path | None = None, **options) -> ReIDSet:
    """Load ReID dataset ``name`` from ``root`` (default ``data_home()/name``) through the registry."""
    loader = REID_DATASETS.get(name)
    params = list(inspect.signature(loader).parameters.values())[1:]
    valid = [p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    unknown = sorted(set(options) - set(valid))
    if unknown and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        raise ValueError(f"{name}: unknown option(s) {', '.join(unknown)}; valid options: {', '.join(valid) or '(none)'}")
    root_path = Path(root).expanduser() if root is not None else data_home() / name
    return loader(root_path, **options)


def check_choice(dataset: str, option: str, value, valid: Sequence) -> None:
    """Raise a ValueError naming ``option`` when ``value`` is not one of ``valid``."""
    if isinstance(value, bool) or value not in valid:
        shown = ", ".join(repr(v) for v in valid) if len(valid) <= 6 else f"{valid[0]!r}..{valid[-1]!r}"
        raise ValueError(f"{dataset}: option {option} must be one of {shown}, found {value!r}")


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def list_images(folder: Path) -> list[Path]:
    """Image files (by suffix) directly in ``folder``, sorted by name; other files are logged and skipped."""
    images, others = [], []
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            (images if p.suffix.lower() in IMAGE_SUFFIXES else others).append(p)
    if others:
        log.debug("%s: skipped %d non-image files (%s)", folder, len(others), ", ".join(p.name for p in others[:5]))
    return images
