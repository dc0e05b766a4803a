"""Synthetic ReID: the synthetic renderer's identities written in the Market-1501 layout (the default ReID set).

:func:`export_market1501` takes any :class:`~pa100k.AttributeSet` with ``meta["identity"]`` and
``meta["camera"]`` (``meta["scene"]`` too when cameras are numbered per scene) and writes
``bounding_box_train/``, ``query/`` and ``bounding_box_test/`` with Market-1501 file names
``{pid:04d}_c{cam}s1_{frame:06d}_00.jpg``, so :func:`pa100k.reid.market1501.load_market1501` reads it unchanged.

How identities are used (seeded by ``SyntheticReIDConfig.seed``):

- Cameras: Market-1501 names hold one digit, cameras 1..6. Each identity's distinct source cameras
  (``(scene, camera)`` pairs) are mapped, in sorted order, to ``camera % 6 + 1``, moving to the next
  free slot (cyclically) when another of the identity's cameras already took it. Images of one source
  camera therefore always share a Market camera, and two source cameras of one identity get different
  Market cameras unless the identity was seen by more than 6 (then the extra ones share a slot, which
  only removes those cross-camera pairs from scoring, never adds same-camera pairs to it).
- Test identities: a ``test_fraction`` of the identities *eligible* for testing, i.e. seen in at least
  2 Market cameras with at least 2 images in one of them. Query: one random image per test identity
  per camera that holds at least 2 of its images (so every query keeps a true match from another
  camera in the gallery); gallery (``bounding_box_test``): all other images of the test identities.
- Distractors: ``distractor_fraction`` of all identities, not used anywhere else, all their images
  written to the gallery with pid ``0000``.
- Junk: ``junk_fraction`` x gallery size (at least one) crops of distractor images (of training images
  when there are no distractors), written to the gallery with pid ``-1``, as Market-1501's bad detections.
- Training (``bounding_box_train``): every image of the remaining identities.
- Market person ids ``0001..`` number the train and test identities in increasing source-identity order
  (past 9999 they take 5 digits, which the ``([-\\d]+)_c(\\d)`` pattern still parses); the frame number is
  the 1-based index of the image in the source set (unique, so names never clash).

Besides the images the export writes ``images.csv`` (one row per written file: source image, identity,
camera, scene, Market pid and camera, subset) and ``synthetic_reid.json`` (the config and counts).
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pa100k.attribute_set import AttributeSet, open_image
from pa100k.reid.base import ReIDSet, atomic_directory, register_reid
from pa100k.reid.market1501 import MARKET_FOLDERS, load_market1501

log = logging.getLogger(__name__)

MARKET_NUM_CAMERAS = 6
MAX_FRAME = 999999
MANIFEST = "synthetic_reid.json"
_JPEG_MAGIC = b"\xff\xd8"


@dataclass(frozen=True)
class SyntheticReIDConfig:
    """How the synthetic identities are split into train / query / gallery / distractors / junk."""

    test_fraction: float = 0.5
    distractor_fraction: float = 0.1
    junk_fraction: float = 0.02
    seed: int = 0
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        for name in ("test_fraction", "distractor_fraction", "junk_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SyntheticReIDConfig.{name} must be in [0, 1], found {value}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"SyntheticReIDConfig.jpeg_quality must be in 1..100, found {self.jpeg_quality}")


@dataclass(frozen=True)
class SyntheticReIDExport:
    """What :func:`export_market1501` wrote."""

    out: Path
    num_train_ids: int
    num_test_ids: int
    num_distractor_ids: int
    num_train_images: int
    num_query_images: int
    num_gallery_images: int  # test identities' images + distractors, junk not counted
    num_distractor_images: int
    num_junk_images: int

    def to_dict(self) -> dict:
        """JSON-able form."""
        d = asdict(self)
        d["out"] = str(self.out)
        return d


def assign_market_cameras(camera_keys: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Map one identity's distinct ``(scene, camera)`` keys to Market cameras 1..6 (see the module docstring)."""
    slots: dict[tuple[int, int], int] = {}
    used: set[int] = set()
    for key in sorted(set(camera_keys)):
        slot = key[1] % MARKET_NUM_CAMERAS + 1
        if len(used) < MARKET_NUM_CAMERAS:
            while slot in used:
                slot = slot % MARKET_NUM_CAMERAS + 1
        slots[key] = slot
        used.add(slot)
    return slots


def _meta_column(attribute_set: AttributeSet, key: str) -> np.ndarray:
    if key not in attribute_set.meta:
        raise ValueError(
            f"{attribute_set.dataset or 'AttributeSet'}: meta column {key!r} is needed for a ReID export; "
            f"found columns {sorted(attribute_set.meta) or '(none)'}"
        )
    col = np.asarray(attribute_set.meta[key])
    if col.dtype.kind not in "iu":
        raise ValueError(f"{attribute_set.dataset or 'AttributeSet'}: meta column {key!r} must hold integers, found dtype {col.dtype}")
    return col.astype(np.int64)


def _write_jpeg(ref, dest: Path, name: str, quality: int) -> None:
    """Copy ``ref`` to ``dest`` when it already is a JPEG, otherwise re-encode it."""
    if isinstance(ref, (bytes, bytearray)):
        if bytes(ref[:2]) == _JPEG_MAGIC:
            dest.write_bytes(ref)
            return
    else:
        try:
            with open(ref, "rb") as fh:
                magic = fh.read(2)
        except FileNotFoundError:
            raise FileNotFoundError(f"image {ref}: file not found ({name})") from None
        if magic == _JPEG_MAGIC:
            shutil.copyfile(ref, dest)
            return
    open_image(ref, name).save(dest, format="JPEG", quality=quality)


def _write_junk(ref, dest: Path, name: str, rng: np.random.Generator, quality: int) -> None:
    """A "bad detection": a random part (30-60% of the height, from the top) of the image."""
    img = open_image(ref, name)
    h = max(1, round(img.height * rng.uniform(0.3, 0.6)))
    img.crop((0, 0, img.width, h)).save(dest, format="JPEG", quality=quality)


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Raise a ValueError when ``out`` exists and is not an empty folder, unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} exists and is a file; choose another folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"output folder {out} already exists and is not empty; choose another or overwrite it")


def export_market1501(
    attribute_set: AttributeSet, out: str | Path, config: SyntheticReIDConfig = SyntheticReIDConfig(), overwrite: bool = False
) -> SyntheticReIDExport:
    """Write ``attribute_set``'s identities as a Market-1501 folder at ``out`` (atomically; see the module docstring)."""
    from tqdm import tqdm

    out = Path(out)
    check_output_folder(out, overwrite)
    identity = _meta_column(attribute_set, "identity")
    camera = _meta_column(attribute_set, "camera")
    scene = _meta_column(attribute_set, "scene") if "scene" in attribute_set.meta else np.zeros_like(camera)
    if len(attribute_set) > MAX_FRAME:
        raise ValueError(f"{attribute_set.dataset}: {len(attribute_set)} images; Market-1501 frame numbers hold at most {MAX_FRAME}")
    rng = np.random.default_rng(config.seed)

    # Per identity: its images grouped by Market camera.
    by_id: dict[int, dict[int, list[int]]] = {}
    market_cam = np.zeros(len(attribute_set), dtype=np.int64)
    skipped = int((identity < 0).sum())
    for pid in np.unique(identity[identity >= 0]).tolist():
        idx = np.flatnonzero(identity == pid)
        slots = assign_market_cameras(list(zip(scene[idx].tolist(), camera[idx].tolist())))
        groups: dict[int, list[int]] = {}
        for i in idx.tolist():
            market_cam[i] = slots[(int(scene[i]), int(camera[i]))]
            groups.setdefault(int(market_cam[i]), []).append(i)
        by_id[pid] = groups
    if skipped:
        log.info("%s: %d images with identity < 0 not exported", attribute_set.dataset, skipped)

    ids = sorted(by_id)
    eligible = [p for p in ids if len(by_id[p]) >= 2 and max(len(g) for g in by_id[p].values()) >= 2]
    if not eligible or len(ids) < 2:
        raise ValueError(
            f"{attribute_set.dataset}: a ReID export needs at least 2 identities, one of them seen in >= 2 cameras "
            f"with >= 2 images in one; found {len(ids)} identities, {len(eligible)} eligible for testing"
        )
    n_test = min(max(1, round(config.test_fraction * len(eligible))), len(ids) - 1)
    test = sorted(rng.choice(eligible, size=n_test, replace=False).tolist())
    rest = rng.permutation([p for p in ids if p not in set(test)]).tolist()
    n_distractor = round(config.distractor_fraction * len(ids))
    if config.distractor_fraction > 0:
        n_distractor = max(1, n_distractor)
    n_distractor = min(n_distractor, len(rest) - 1)
    distractors, train = sorted(rest[:n_distractor]), sorted(rest[n_distractor:])
    market_pid = {p: k for k, p in enumerate(sorted(train + test), start=1)}

    # (image index, market pid, subset folder) of every file to write.
    plan: list[tuple[int, int, str]] = []
    for p in train:
        plan += [(i, market_pid[p], "bounding_box_train") for g in by_id[p].values() for i in g]
    n_query = 0
    for p in test:
        for cam in sorted(by_id[p]):
            images = by_id[p][cam]
            q = int(rng.choice(images)) if len(images) >= 2 else -1
            n_query += q >= 0
            plan += [(i, market_pid[p], "query" if i == q else "bounding_box_test") for i in images]
    distractor_images = [i for p in distractors for g in by_id[p].values() for i in g]
    plan += [(i, 0, "bounding_box_test") for i in distractor_images]
    n_gallery = sum(sub == "bounding_box_test" for _, _, sub in plan)
    source = distractor_images or [i for i, _, sub in plan if sub == "bounding_box_train"]
    n_junk = 0
    if config.junk_fraction > 0:
        n_junk = min(max(1, round(config.junk_fraction * n_gallery)), len(source))
    junk = sorted(rng.choice(source, size=n_junk, replace=False).tolist()) if n_junk else []

    rows = []
    with atomic_directory(out, replace=overwrite) as tmp:
        for sub in MARKET_FOLDERS:
            (tmp / sub).mkdir()
        jobs = [(i, pid, sub, False) for i, pid, sub in plan] + [(i, -1, "bounding_box_test", True) for i in junk]
        for i, pid, sub, is_junk in tqdm(jobs, desc="synthetic ReID export", leave=False, disable=None):
            pid_text = f"{pid:04d}" if pid >= 0 else "-1"
            fname = f"{pid_text}_c{market_cam[i]}s1_{i + 1:06d}_00.jpg"
            name = f"{attribute_set.dataset}:{attribute_set.names[i]}"
            if is_junk:
                _write_junk(attribute_set.images[i], tmp / sub / fname, name, rng, config.jpeg_quality)
            else:
                _write_jpeg(attribute_set.images[i], tmp / sub / fname, name, config.jpeg_quality)
            rows.append((f"{sub}/{fname}", str(attribute_set.names[i]), int(identity[i]), int(camera[i]),
                         int(scene[i]), pid, int(market_cam[i]), "junk" if is_junk else sub))
        _write_images_csv(tmp / "images.csv", rows)
        result = SyntheticReIDExport(
            out=out, num_train_ids=len(train), num_test_ids=len(test), num_distractor_ids=len(distractors),
            num_train_images=sum(sub == "bounding_box_train" for _, _, sub in plan), num_query_images=n_query,
            num_gallery_images=n_gallery, num_distractor_images=len(distractor_images), num_junk_images=len(junk),
        )
        manifest = {"source": attribute_set.dataset, "source_root": str(attribute_set.root or ""),
                    "config": asdict(config), "counts": result.to_dict()}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log.info("wrote synthetic ReID set to %s: %s", out, result.to_dict())
    return result


def _write_images_csv(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "source_image", "identity", "camera", "scene", "market_pid", "market_camera", "subset"])
        writer.writerows(rows)


@register_reid("synthetic_reid")
def load_synthetic_reid(
    root: Path, preset: str = "small", seed: int = 0, synthetic_root: str | Path | None = None
) -> ReIDSet:
    """The synthetic ReID set (default ReID dataset): rendered and exported once to ``root/<preset>-seed<seed>/``.

    ``synthetic_root`` is the synthetic dataset's own folder (default: where ``pa100k.load("synthetic")`` keeps it).
    """
    folder = Path(root) / f"{preset}-seed{seed}"
    if not folder.is_dir():
        import pa100k

        log.info("rendering the synthetic set (preset %s, seed %d) for ReID", preset, seed)
        attribute_set = pa100k.load("synthetic", root=synthetic_root, preset=preset, seed=seed)
        export_market1501(attribute_set, folder, SyntheticReIDConfig(seed=seed))
    reidset = load_market1501(folder)
    reidset.name = "synthetic_reid"
    reidset.info.update(preset=preset, seed=seed)
    return reidset

