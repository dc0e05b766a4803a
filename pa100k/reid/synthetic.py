"""Synthetic ReID: the synthetic renderer's identities written in the Market-1501 layout (the default ReID set).

:func:`export_market1501` takes any :class:`~pa100k.AttributeSet` with ``meta["identity"]`` and
``meta["camera"]`` (``meta["scene"]`` too when cameras are numbered per scene) and writes
``bounding_box_train/``, ``query/`` and ``bounding_box_test/`` with Market-1501 file names
``{pid:04d}_c{cam}s1_{frame:06d}_00.jpg``, so :func:`pa100k.reid.market1501.load_market1501` reads it unchanged.

How identities are used (seeded by ``SyntheticReIDConfig.seed``). As in Market-1501, where every identity
was seen by at least two cameras, the identities that train and test are all *multi-camera*: a softmax
over identities seen by one camera only learns that camera's scene as much as the person, and ReID is
matching across cameras.

The attribute presets draw 30 % of their identities with 2-3 cameras (``small``: 390 of 1,296 identities),
too few to train on, so the ``synthetic_reid`` dataset (:func:`load_synthetic_reid`) renders its own copy of
the preset with the renderer's ``multi_camera_fraction`` raised (:func:`reid_render_preset`: 0.8, 0.7 for
``tiny``; ``small``: 726 of 892 identities multi-camera), kept beside the attribute render, which is untouched.

- Cameras: Market-1501 names hold one digit, cameras 1..6. Each identity's distinct source cameras
  (``(scene, camera)`` pairs) are mapped, in sorted order, to ``camera % 6 + 1``, moving to the next
  free slot (cyclically) when another of the identity's cameras already took it. Images of one source
  camera therefore always share a Market camera, and two source cameras of one identity get different
  Market cameras unless the identity was seen by more than 6 (then the extra ones share a slot, which
  only removes those cross-camera pairs from scoring, never adds same-camera pairs to it). An identity
  is *multi-camera* when it gets at least 2 Market cameras.
- Test identities: a ``test_fraction`` of the multi-camera identities *eligible* for testing, i.e. with
  at least 2 images in one Market camera. Query: one random image per test identity per camera that
  holds at least 2 of its images (so every query keeps a true match from another camera in the
  gallery); gallery (``bounding_box_test``): all other images of the test identities.
- Distractors: ``distractor_fraction`` of all identities, all their images written to the gallery with
  pid ``0000`` (never a true match). They are drawn from the single-camera identities first (they are
  of no use for training or testing), from the multi-camera non-test ones only when those run out.
- Single-camera identities that are not distractors: ``single_camera="drop"`` (default) leaves them
  out (``images.csv`` lists written files only; the manifest counts them), ``"distractor"`` writes them
  all to the gallery as distractors, ``"train"`` trains on them (as format 1 did; for comparison).
- Junk: ``junk_fraction`` x gallery size (at least one) crops of distractor images (of training images
  when there are no distractors), written to the gallery with pid ``-1``, as Market-1501's bad detections.
- Training (``bounding_box_train``): every image of the remaining (multi-camera) identities.
- Market person ids ``0001..`` number the train and test identities in increasing source-identity order
  (past 9999 they take 5 digits, which the ``([-\\d]+)_c(\\d)`` pattern still parses); the frame number is
  the 1-based index of the image in the source set (unique, so names never clash).

Besides the images the export writes ``images.csv`` (one row per written file: source image, identity,
camera, scene, Market pid and camera, subset) and ``synthetic_reid.json`` (format version, config and
counts); :func:`load_synthetic_reid` exports again when its cached copy has another version, config or render.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from pa100k.attribute_set import AttributeSet, open_image
from pa100k.reid.base import ReIDSet, atomic_directory, register_reid
from pa100k.reid.market1501 import MARKET_FOLDERS, load_market1501
from pa100k.synthetic.presets import SyntheticPreset

log = logging.getLogger(__name__)

MARKET_NUM_CAMERAS = 6
MAX_FRAME = 999999
MANIFEST = "synthetic_reid.json"
# 1: every non-test, non-distractor identity trained; 2: train and test identities all multi-camera.
FORMAT_VERSION = 2
SINGLE_CAMERA_ROLES = ("drop", "distractor", "train")
# Share of identities the renderer draws with 2-3 cameras for synthetic_reid (the attribute presets use 0.3; tiny's
# 80 tracklets cannot keep every attribute in 6 tracklets with fewer, larger identities above 0.7).
REID_MULTI_CAMERA_FRACTION = {"tiny": 0.7, "small": 0.8, "full": 0.8}
_JPEG_MAGIC = b"\xff\xd8"


@dataclass(frozen=True)
class SyntheticReIDConfig:
    """How the synthetic identities are split into train / query / gallery / distractors / junk."""

    test_fraction: float = 0.5
    distractor_fraction: float = 0.1
    junk_fraction: float = 0.02
    seed: int = 0
    jpeg_quality: int = 95
    single_camera: str = "drop"  # what becomes of single-camera identities that are not distractors

    def __post_init__(self) -> None:
        for name in ("test_fraction", "distractor_fraction", "junk_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SyntheticReIDConfig.{name} must be in [0, 1], found {value}")
        if self.single_camera not in SINGLE_CAMERA_ROLES:
            raise ValueError(f"SyntheticReIDConfig.single_camera must be one of {', '.join(SINGLE_CAMERA_ROLES)}, "
                             f"found {self.single_camera!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"SyntheticReIDConfig.jpeg_quality must be in 1..100, found {self.jpeg_quality}")


@dataclass(frozen=True)
class CameraCoverage:
    """Identities, images and cameras of a group of images, and how many of the identities >= 2 cameras saw."""

    ids: int
    images: int
    cameras: int
    multi_camera_ids: int

    @property
    def multi_camera_share(self) -> float:
        """Share of the identities seen by at least two cameras (0 when there are none)."""
        return self.multi_camera_ids / self.ids if self.ids else 0.0


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
    num_dropped_ids: int = 0  # single-camera identities left out (``single_camera="drop"``)
    num_dropped_images: int = 0
    source: CameraCoverage | None = None  # the source set's identities, before the export

    def to_dict(self) -> dict:
        """JSON-able form."""
        d = asdict(self)
        d["out"] = str(self.out)
        return d


def camera_coverage(pids: np.ndarray, cameras: np.ndarray) -> CameraCoverage:
    """:class:`CameraCoverage` of images with identities ``pids`` and cameras ``cameras`` (1-D arrays or, for
    cameras, an (N, k) array whose rows are camera keys such as ``(scene, camera)``)."""
    pids = np.asarray(pids)
    cams = np.asarray(cameras)
    if cams.ndim == 1:
        cams = cams[:, None]
    if cams.shape[0] != len(pids):
        raise ValueError(f"camera_coverage: {len(pids)} pids but {cams.shape[0]} camera rows")
    if not len(pids):
        return CameraCoverage(0, 0, 0, 0)
    _, cam_key = np.unique(cams, axis=0, return_inverse=True)
    pairs = np.unique(np.stack([pids, cam_key.reshape(-1)], axis=1), axis=0)
    _, cams_per_id = np.unique(pairs[:, 0], return_counts=True)
    return CameraCoverage(ids=len(cams_per_id), images=len(pids), cameras=int(cam_key.max()) + 1,
                          multi_camera_ids=int((cams_per_id >= 2).sum()))


def source_coverage(attribute_set: AttributeSet) -> CameraCoverage:
    """:class:`CameraCoverage` of an AttributeSet's identities (cameras are ``(scene, camera)`` pairs)."""
    identity = _meta_column(attribute_set, "identity")
    camera = _meta_column(attribute_set, "camera")
    scene = _meta_column(attribute_set, "scene") if "scene" in attribute_set.meta else np.zeros_like(camera)
    keep = identity >= 0
    return camera_coverage(identity[keep], np.stack([scene[keep], camera[keep]], axis=1))


def reid_coverage(reidset: ReIDSet) -> dict[str, CameraCoverage]:
    """:class:`CameraCoverage` of a ReID set's ``train`` identities and its ``test`` identities (query and
    gallery together, distractors left out)."""
    def cover(items: list) -> CameraCoverage:
        return camera_coverage(np.array([p for _, p, _ in items], dtype=np.int64),
                               np.array([c for _, _, c in items], dtype=np.int64))

    return {"train": cover(reidset.train), "test": cover([it for it in reidset.query + reidset.gallery if it[1] > 0])}


def coverage_table(rows: dict[str, CameraCoverage]) -> str:
    """A text table of :class:`CameraCoverage` rows: ids, images, cameras, multi-camera ids and their share."""
    rule = "  " + "-" * 66
    lines = [rule, f"  {'group':<12} | {'# ids':>6} | {'# images':>9} | {'# cameras':>9} | {'multi-camera ids':>18}", rule]
    for name, c in rows.items():
        multi = f"{c.multi_camera_ids} ({100 * c.multi_camera_share:.1f} %)"
        lines.append(f"  {name:<12} | {c.ids:>6} | {c.images:>9} | {c.cameras:>9} | {multi:>18}")
    lines.append(rule)
    return "\n".join(lines)


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
    attribute_set: AttributeSet, out: str | Path, config: SyntheticReIDConfig = SyntheticReIDConfig(), overwrite: bool = False,
    manifest_extra: dict | None = None,
) -> SyntheticReIDExport:
    """Write ``attribute_set``'s identities as a Market-1501 folder at ``out`` (atomically; see the module docstring).

    ``manifest_extra``: JSON-able entries added to ``synthetic_reid.json`` (e.g. the renderer preset).
    """
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
    multi = [p for p in ids if len(by_id[p]) >= 2]
    single = [p for p in ids if len(by_id[p]) < 2]
    eligible = [p for p in multi if max(len(g) for g in by_id[p].values()) >= 2]
    log.info("%s: %d identities, %d of them (%.1f %%) seen by >= 2 cameras, %d eligible for testing",
             attribute_set.dataset, len(ids), len(multi), 100 * len(multi) / max(len(ids), 1), len(eligible))
    if not eligible or len(multi) < 2:
        raise ValueError(
            f"{attribute_set.dataset}: a ReID export needs at least 2 identities seen in >= 2 cameras (one to train, "
            f"one to test), one of them with >= 2 images in one camera; found {len(ids)} identities, "
            f"{len(multi)} multi-camera, {len(eligible)} eligible for testing"
        )
    n_test = min(max(1, round(config.test_fraction * len(eligible))), len(multi) - 1)
    test = sorted(rng.choice(eligible, size=n_test, replace=False).tolist())
    test_ids = set(test)
    multi_rest = rng.permutation([p for p in multi if p not in test_ids]).tolist()
    single = rng.permutation(single).tolist() if single else []
    n_distractor = round(config.distractor_fraction * len(ids))
    if config.distractor_fraction > 0:
        n_distractor = max(1, n_distractor)
    # Distractors: single-camera identities first; multi-camera ones only past those, keeping one to train.
    n_single = len(single) if config.single_camera == "distractor" else min(n_distractor, len(single))
    n_multi = max(0, min(n_distractor - n_single, len(multi_rest) - 1))
    distractors = sorted(single[:n_single] + multi_rest[:n_multi])
    leftover = single[n_single:]
    train = sorted(multi_rest[n_multi:] + (leftover if config.single_camera == "train" else []))
    dropped = leftover if config.single_camera == "drop" else []
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
            num_dropped_ids=len(dropped), num_dropped_images=sum(len(g) for p in dropped for g in by_id[p].values()),
            source=source_coverage(attribute_set),
        )
        manifest = {"format_version": FORMAT_VERSION, "source": attribute_set.dataset,
                    "source_root": str(attribute_set.root or ""), "config": asdict(config), "counts": result.to_dict(),
                    **(manifest_extra or {})}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log.info("wrote synthetic ReID set to %s: %s", out, result.to_dict())
    return result


def _write_images_csv(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "source_image", "identity", "camera", "scene", "market_pid", "market_camera", "subset"])
        writer.writerows(rows)


def reid_render_preset(preset: str) -> SyntheticPreset:
    """The renderer preset the synthetic ReID set of ``preset`` is drawn from: ``preset`` with more multi-camera
    identities (:data:`REID_MULTI_CAMERA_FRACTION`), named ``<preset>-reid-mc<percent>`` (the render cache is keyed
    by name, so another fraction renders into another folder)."""
    from pa100k.synthetic import get_preset

    base = get_preset(preset)
    if base.name not in REID_MULTI_CAMERA_FRACTION:
        raise ValueError(f"synthetic_reid: preset must be one of {', '.join(REID_MULTI_CAMERA_FRACTION)}, found {preset!r}")
    fraction = REID_MULTI_CAMERA_FRACTION[base.name]
    return replace(base, name=f"{base.name}-reid-mc{round(100 * fraction)}", multi_camera_fraction=fraction,
                   description=f"{base.name} with {fraction:.0%} of its identities drawn multi-camera (synthetic_reid)")


def load_reid_source(preset: str = "small", seed: int = 0, root: str | Path | None = None) -> AttributeSet:
    """The synthetic set the ReID export of ``preset`` reads: :func:`reid_render_preset` rendered once into ``root``
    (default ``data_home()/synthetic/<name>-seed<seed>/``, beside the attribute benchmark's own render)."""
    import pa100k
    from pa100k.fileio import data_home

    render = reid_render_preset(preset)
    root = Path(root) if root is not None else data_home() / "synthetic" / f"{render.name}-seed{int(seed)}"
    return pa100k.load("synthetic", root=root, preset=render, seed=seed)


def read_manifest(folder: Path) -> dict | None:
    """The ``synthetic_reid.json`` of an export, or None where there is none."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


@register_reid("synthetic_reid")
def load_synthetic_reid(
    root: Path, preset: str = "small", seed: int = 0, synthetic_root: str | Path | None = None
) -> ReIDSet:
    """The synthetic ReID set (default ReID dataset): rendered (:func:`load_reid_source`) and exported once to
    ``root/<preset>-seed<seed>/``.

    ``synthetic_root`` is the rendered source folder (default: see :func:`load_reid_source`). A cached export
    of another format version, config or renderer preset (an older release of this module) is exported again.
    """
    folder = Path(root) / f"{preset}-seed{seed}"
    config = SyntheticReIDConfig(seed=seed)
    expected = {"format_version": FORMAT_VERSION, "config": asdict(config),
                "render_preset": json.loads(json.dumps(asdict(reid_render_preset(preset))))}
    stale = False
    if folder.is_dir() and any(folder.iterdir()):
        manifest = read_manifest(folder)
        if manifest is None:
            raise ValueError(f"{folder}: not empty and has no {MANIFEST}; it is not a synthetic ReID export "
                             f"(remove it or choose another root)")
        changed = [k for k, v in expected.items() if manifest.get(k) != v]
        stale = bool(changed)
        if stale:
            log.info("%s: cached export differs in %s; exporting again", folder, ", ".join(changed))
    if stale or not folder.is_dir() or not any(folder.iterdir()):
        log.info("rendering the synthetic set (preset %s, seed %d) for ReID", preset, seed)
        attribute_set = load_reid_source(preset, seed, synthetic_root)
        export_market1501(attribute_set, folder, config, overwrite=stale,
                          manifest_extra={"render_preset": expected["render_preset"]})
    reidset = load_market1501(folder)
    reidset.name = "synthetic_reid"
    reidset.info.update(preset=preset, seed=seed)
    return reidset
