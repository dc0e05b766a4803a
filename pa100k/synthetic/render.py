"""Plan and render the synthetic dataset: scenes, cameras, identities, tracklets, frames, official layout.

Planning (labels, tracklets, identities, cameras, the split and the image names) is cheap and happens
in one process; rendering the pixels runs over a process pool, one task per camera, every tracklet
seeded from ``(seed, tracklet)`` so that the result does not depend on the number of workers.

Layout written (that of the PA-100K release, readable by the ``pa100k`` loader unchanged)::

    data/000001.jpg ...       images, named in split order (train, then val, then test)
    annotation.mat            train/val/test_images_name, train/val/test_label, attributes
    tracklets.csv             image, scene, camera, tracklet, identity (0-based ids; sidecar, not in the release)
    synthetic.json            preset, seed and counts, written last
"""

from __future__ import annotations

import csv
import json
import logging
import multiprocessing as mp
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pa100k.attribute_set import AttributeSet
from pa100k.fileio import atomic_write
from pa100k.synthetic import priors
from pa100k.synthetic.person import BACK, FRONT, Pose, draw_person, sample_style
from pa100k.synthetic.presets import SyntheticPreset, get_preset
from pa100k.synthetic.scene import (
    Degradation,
    camera_background,
    degrade,
    draw_occluder,
    light_table,
    noise_field,
    sample_degradation,
)

log = logging.getLogger(__name__)

SCHEMA = priors.SCHEMA
TRACKLET_COLUMNS = ("image", "scene", "camera", "tracklet", "identity")
MARKER = "synthetic.json"
FORMAT_VERSION = 1
PANORAMA_WIDTH = 640

# Sub-streams of the seed, so that each kind of draw has its own independent generator.
_PLAN, _STYLE, _TRACKLET, _FRAME = 1, 3, 7, 8


@dataclass
class DatasetPlan:
    """Everything about the dataset except its pixels; arrays are in plan order (tracklet by tracklet).

    ``tracklet_start[t]:tracklet_start[t + 1]`` are the frames of tracklet ``t``; ``splits`` holds plan
    indices; ``names[i]`` is the file name of plan image ``i`` (numbered in split order, as in the release).
    """

    preset: SyntheticPreset
    seed: int
    labels: np.ndarray
    tracklet: np.ndarray
    identity: np.ndarray
    camera: np.ndarray
    scene: np.ndarray
    identity_labels: np.ndarray
    camera_scene: np.ndarray
    tracklet_start: np.ndarray
    splits: dict[str, np.ndarray]
    names: np.ndarray

    @property
    def num_images(self) -> int:
        """Number of frames."""
        return len(self.labels)

    @property
    def num_tracklets(self) -> int:
        """Number of tracklets."""
        return len(self.tracklet_start) - 1

    def attribute_set(self, root: Path | None = None) -> AttributeSet:
        """The plan as an AttributeSet (images are the paths the render writes under ``root``/data)."""
        base = Path(root) / "data" if root is not None else Path("data")
        return AttributeSet(
            schema=SCHEMA, names=self.names, images=[base / n for n in self.names], labels=self.labels,
            splits={k: v for k, v in self.splits.items() if k in ("train", "val", "test")},
            meta={"tracklet": self.tracklet, "identity": self.identity, "camera": self.camera, "scene": self.scene},
            dataset="synthetic", root=Path(root) if root is not None else None,
        )


def _assign_identities(preset: SyntheticPreset, rng: np.random.Generator, camera_scene: np.ndarray):
    """Per tracklet an identity and a camera; a multi-camera identity gets different cameras, of its scene first."""
    scene_cams = [np.flatnonzero(camera_scene == s) for s in range(preset.num_scenes)]
    num_cams = len(camera_scene)
    ident: list[int] = []
    cams: list[int] = []
    pid = 0
    while len(ident) < preset.num_tracklets:
        k = 1
        if rng.random() < preset.multi_camera_fraction and num_cams > 1:
            k = 2 if rng.random() < 0.7 else 3
        k = min(k, preset.num_tracklets - len(ident), num_cams)
        home = scene_cams[int(rng.integers(preset.num_scenes))]
        chosen = list(rng.permutation(home)[:k])
        while len(chosen) < k:
            other = int(rng.integers(num_cams))
            if other not in chosen:
                chosen.append(other)
        ident.extend([pid] * k)
        cams.extend(int(c) for c in chosen)
        pid += 1
    return np.asarray(ident, dtype=np.int64), np.asarray(cams, dtype=np.int64), pid


def _frame_counts(preset: SyntheticPreset, rng: np.random.Generator) -> np.ndarray:
    """Frames per tracklet, at least one each, summing to ``preset.num_images``."""
    t, n = preset.num_tracklets, preset.num_images
    counts = 1 + rng.poisson(max(preset.frames_per_tracklet - 1.0, 0.0), t)
    while (diff := n - int(counts.sum())) != 0:
        if diff > 0:
            np.add.at(counts, rng.integers(t, size=diff), 1)
        else:
            can = np.flatnonzero(counts > 1)
            counts[rng.choice(can, size=min(-diff, len(can)), replace=False)] -= 1
    return counts


def _tracklet_any(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Per tracklet, whether any of its frames has a positive label: ``(T, A)`` bool."""
    return np.maximum.reduceat(values, start[:-1], axis=0).astype(bool)


def _ensure_coverage(preset, rng, identity_labels, tracklet_identity, orientation, start) -> np.ndarray:
    """Top up attributes seen in fewer than ``min_positive_tracklets`` tracklets (only small presets need it)."""
    m = preset.min_positive_tracklets
    frame_ident = np.repeat(tracklet_identity, np.diff(start))
    forced: set[int] = set()
    for _ in range(3):
        changed = False
        for j, name in enumerate(priors.ATTRIBUTES):
            labels = priors.frame_labels(identity_labels[frame_ident], orientation)
            pos = _tracklet_any(labels[:, j], start)
            missing = m - int(pos.sum())
            if missing <= 0:
                continue
            changed = True
            for t in rng.permutation(np.flatnonzero(~pos)):
                if missing <= 0:
                    break
                frames = slice(start[t], start[t + 1])
                if j in priors.ORIENTATION:
                    orientation[frames] = priors.ORIENTATION.index(j)
                else:
                    pid = int(tracklet_identity[t])
                    if pid in forced:
                        continue
                    forced.add(pid)
                    priors.force_attribute(identity_labels[pid], j)
                    if j == priors.IDX["Glasses"]:
                        orientation[frames] = np.where(orientation[frames] == BACK, FRONT, orientation[frames])
                missing -= 1
        if not changed:
            break
    labels = priors.frame_labels(identity_labels[frame_ident], orientation)
    pos = _tracklet_any(labels, start).sum(0)
    neg = _tracklet_any(1 - labels, start).sum(0)
    short = [a for a, p, q in zip(priors.ATTRIBUTES, pos, neg) if min(p, q) < min(m, 3)]
    if short:
        raise ValueError(
            f"preset {preset.name!r}: too few tracklets ({preset.num_tracklets}) to hold positives and negatives "
            f"of {short} in {m} tracklets each; raise num_tracklets"
        )
    return labels


def _split(aset: AttributeSet, seed: int) -> dict[str, np.ndarray]:
    """PA-100K's 8:1:1 split by whole tracklets, every split holding positives and negatives of all 26 attributes."""
    from pa100k.splits import tracklet_split

    return tracklet_split(aset, ratios=(8, 1, 1), seed=seed)


def plan_dataset(preset: str | SyntheticPreset = "small", seed: int = 0) -> DatasetPlan:
    """Draw scenes, cameras, identities, tracklets, frame labels, the 8:1:1 tracklet split and the image names."""
    p = get_preset(preset)
    seed = int(seed)
    rng = np.random.default_rng([seed, _PLAN])
    lo, hi = p.cameras_per_scene
    camera_scene = np.repeat(np.arange(p.num_scenes), rng.integers(lo, hi + 1, p.num_scenes))
    tracklet_identity, tracklet_camera, num_ids = _assign_identities(p, rng, camera_scene)
    perm = rng.permutation(p.num_tracklets)  # mix scenes and identities in the file order
    tracklet_identity, tracklet_camera = tracklet_identity[perm], tracklet_camera[perm]
    counts = _frame_counts(p, rng)
    start = np.concatenate([[0], np.cumsum(counts)])
    identity_labels = priors.sample_identities(num_ids, rng)
    _, orientation = priors.sample_orientations(counts, rng)
    labels = _ensure_coverage(p, rng, identity_labels, tracklet_identity, orientation, start)
    tracklet = np.repeat(np.arange(p.num_tracklets), counts)
    camera = tracklet_camera[tracklet]
    plan = DatasetPlan(
        preset=p, seed=seed, labels=labels, tracklet=tracklet, identity=tracklet_identity[tracklet],
        camera=camera, scene=camera_scene[camera], identity_labels=identity_labels, camera_scene=camera_scene,
        tracklet_start=start, splits={}, names=np.array([f"{i + 1:06d}.jpg" for i in range(len(labels))]),
    )
    splits = _split(plan.attribute_set(), seed)
    order = np.concatenate([np.sort(splits[k]) for k in ("train", "val", "test")])
    if len(order) != len(labels) or len(np.unique(order)) != len(labels):
        raise ValueError("the tracklet split must assign every image to exactly one of train/val/test")
    width = max(6, len(str(len(labels))))
    names = np.empty(len(labels), dtype=object)
    names[order] = [f"{k + 1:0{width}d}.jpg" for k in range(len(labels))]
    plan.names = names.astype(str)
    plan.splits = {k: np.sort(v) for k, v in splits.items() if k in ("train", "val", "test")}
    return plan


# ----------------------------------------------------------------------------------------------------
# pixels


@dataclass(frozen=True)
class TrackletJob:
    """What a worker needs to draw one tracklet: ids, the identity's labels, each frame's labels and file name."""

    tracklet: int
    identity: int
    scene: int
    camera: int
    identity_labels: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]


def render_tracklet(
    job: TrackletJob, seed: int, preset: SyntheticPreset, background: Image.Image | None = None,
) -> list[Image.Image]:
    """The frames of one tracklet as PIL images (deterministic in ``seed`` and the tracklet id)."""
    rng = np.random.default_rng([seed, _TRACKLET, job.tracklet])
    base_h = preset.base_height
    if background is None:
        background = camera_background(seed, job.scene, job.camera, base_h, PANORAMA_WIDTH)
    style = sample_style(job.identity_labels, np.random.default_rng([seed, _STYLE, job.identity]))
    lo, hi = preset.height_range
    out_h = int(np.clip(round(preset.height_median * np.exp(preset.height_sigma * rng.standard_normal())), lo, hi))
    aspect = rng.uniform(*preset.aspect_range)
    out_w = max(preset.min_width, round(out_h * aspect))
    base_w = max(32, round(base_h * out_w / out_h))
    deg = tracklet_degradation(seed, job.tracklet)
    direction = 1 if rng.random() < 0.5 else -1
    x = rng.uniform(0, background.width - base_w)
    vx = rng.uniform(1.0, 6.0) * direction
    frac = rng.uniform(0.8, 0.9)
    dscale = rng.uniform(-0.008, 0.008)
    cx = base_w * (0.5 + rng.uniform(-0.03, 0.03))
    phase = rng.random()
    dphase = rng.uniform(0.12, 0.3)
    frame_rng = np.random.default_rng([seed, _FRAME, job.tracklet])
    noise = noise_field(deg, (out_w, out_h), frame_rng)
    lut = light_table(deg)
    frames = []
    for k, labels in enumerate(job.labels):
        if labels[priors.IDX["Side"]]:
            x += vx
        x = float(np.clip(x, 0, background.width - base_w))
        jit = frame_rng.uniform(-1, 1, 3)
        height = base_h * float(np.clip(frac + dscale * k + 0.01 * jit[0], 0.76, 0.92))
        top = (base_h - height) * (0.5 + 0.2 * jit[1])
        canvas = background.crop((int(x), 0, int(x) + base_w, base_h))
        pose = Pose(direction=direction, phase=phase + dphase * k, cx=cx + 0.012 * base_w * jit[2], top=top,
                    height=height)
        draw_person(canvas, labels, style, pose)
        draw_occluder(canvas, deg, shift=0.5 * k * (1 if deg.occluder_side > 0 else -1))
        img = canvas.resize((out_w, out_h), Image.BILINEAR)
        frames.append(degrade(img, deg, frame_rng, noise=noise, lut=lut))
    return frames


def _render_chunk(args) -> int:
    seed, preset, data_dir, jobs = args
    backgrounds: dict[tuple[int, int], Image.Image] = {}
    n = 0
    for job in jobs:
        key = (job.scene, job.camera)
        if key not in backgrounds:
            backgrounds[key] = camera_background(seed, job.scene, job.camera, preset.base_height, PANORAMA_WIDTH)
        quality = tracklet_degradation(seed, job.tracklet).jpeg_quality
        for name, img in zip(job.names, render_tracklet(job, seed, preset, backgrounds[key])):
            img.save(os.path.join(data_dir, name), "JPEG", quality=quality)
            n += 1
    return n


def tracklet_degradation(seed: int, tracklet: int) -> Degradation:
    """The degradations of one tracklet (its own random stream, shared by drawing and JPEG encoding)."""
    return sample_degradation(np.random.default_rng([seed, _TRACKLET, tracklet, 1]))


def _jobs(plan: DatasetPlan, tracklets: Iterable[int] | None = None) -> list[TrackletJob]:
    ts = range(plan.num_tracklets) if tracklets is None else tracklets
    jobs = []
    for t in ts:
        a, b = int(plan.tracklet_start[t]), int(plan.tracklet_start[t + 1])
        pid = int(plan.identity[a])
        jobs.append(TrackletJob(
            tracklet=int(t), identity=pid, scene=int(plan.scene[a]), camera=int(plan.camera[a]),
            identity_labels=plan.identity_labels[pid], labels=plan.labels[a:b], names=tuple(plan.names[a:b]),
        ))
    return jobs


def _chunks(jobs: list[TrackletJob], max_images: int = 200) -> list[list[TrackletJob]]:
    """Tracklets grouped by camera (one background per task), cut into tasks of at most ``max_images``."""
    by_cam: dict[int, list[TrackletJob]] = {}
    for j in jobs:
        by_cam.setdefault(j.camera, []).append(j)
    chunks = []
    for cam in sorted(by_cam):
        cur: list[TrackletJob] = []
        n = 0
        for j in by_cam[cam]:
            if cur and n + len(j.labels) > max_images:
                chunks.append(cur)
                cur, n = [], 0
            cur.append(j)
            n += len(j.labels)
        if cur:
            chunks.append(cur)
    chunks.sort(key=lambda c: -sum(len(j.labels) for j in c))  # big tasks first keeps the workers busy
    return chunks


def render_images(plan: DatasetPlan, data_dir: str | Path, workers: int | None = None,
                  tracklets: Iterable[int] | None = None, progress: bool = True) -> int:
    """Render the frames of ``tracklets`` (default all) as JPEGs into ``data_dir``; returns the number written."""
    from tqdm import tqdm

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    jobs = _jobs(plan, tracklets)
    total = sum(len(j.labels) for j in jobs)
    workers = os.cpu_count() or 1 if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, found {workers}")
    tasks = [(plan.seed, plan.preset, str(data_dir), c) for c in _chunks(jobs, max_images=max(40, min(200, total // (4 * workers) + 1)))]
    written = 0
    with tqdm(total=total, unit="img", desc=f"rendering {plan.preset.name}", disable=None if progress else True) as bar:
        if workers == 1 or len(tasks) == 1:
            for task in tasks:
                n = _render_chunk(task)
                written += n
                bar.update(n)
        else:
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            with mp.get_context(method).Pool(min(workers, len(tasks))) as pool:
                for n in pool.imap_unordered(_render_chunk, tasks):
                    written += n
                    bar.update(n)
    return written


# ----------------------------------------------------------------------------------------------------
# the official layout


# MAT-file level 5 element types and array classes (MATLAB's "MAT-File Format" documentation).
_MI_INT8, _MI_UINT8, _MI_INT32, _MI_UINT32, _MI_MATRIX, _MI_UTF8 = 1, 2, 5, 6, 14, 16
_MX_CELL, _MX_CHAR, _MX_UINT8 = 1, 4, 9


def _element(mi_type: int, payload: bytes) -> bytes:
    """A data element: 8-byte tag, payload, zero padding to 8 bytes; 1 to 4 bytes use the small element format."""
    n = len(payload)
    if 0 < n <= 4 and mi_type != _MI_MATRIX:
        return struct.pack("<HH", mi_type, n) + payload + b"\0" * (4 - n)
    return struct.pack("<II", mi_type, n) + payload + b"\0" * (-n % 8)


def _matrix(mx_class: int, dims: tuple[int, ...], name: str, body: bytes) -> bytes:
    """A miMATRIX element: array flags, dimensions, name, data."""
    flags = _element(_MI_UINT32, struct.pack("<II", mx_class, 0))
    shape = _element(_MI_INT32, struct.pack(f"<{len(dims)}i", *dims))
    return _element(_MI_MATRIX, flags + shape + _element(_MI_INT8, name.encode("ascii")) + body)


def _cell_of_strings(name: str, strings) -> bytes:
    """A MATLAB cell array (N, 1) of char rows, read by scipy as ``x[i][0][0]``."""
    body = b"".join(
        _matrix(_MX_CHAR, (1, len(t)), "", _element(_MI_UTF8, t.encode("utf-8"))) for t in (str(v) for v in strings)
    )
    return _matrix(_MX_CELL, (len(strings), 1), name, body)


def _uint8_matrix(name: str, values: np.ndarray) -> bytes:
    values = np.asarray(values, dtype=np.uint8)
    return _matrix(_MX_UINT8, values.shape, name, _element(_MI_UINT8, values.tobytes(order="F")))


def write_annotation(plan: DatasetPlan, path: str | Path) -> None:
    """Write ``annotation.mat`` (MATLAB v5, uncompressed) with exactly the keys of the PA-100K release.

    Written directly, element by element as scipy's ``savemat`` would (which takes minutes of Python per
    100,000 names): ``attributes`` (26, 1) cell, then per split ``<split>_images_name`` (N, 1) cell and
    ``<split>_label`` N x 26 uint8.
    """
    text = b"MATLAB 5.0 MAT-file, written by pa100k.synthetic"
    parts = [text.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"]
    parts.append(_cell_of_strings("attributes", SCHEMA.attributes))
    for split in ("train", "val", "test"):
        idx = plan.splits[split]
        order = idx[np.argsort(plan.names[idx])]
        parts.append(_cell_of_strings(f"{split}_images_name", plan.names[order]))
        parts.append(_uint8_matrix(f"{split}_label", plan.labels[order]))
    with atomic_write(path, "wb") as fh:
        fh.write(b"".join(parts))


def write_tracklets(plan: DatasetPlan, path: str | Path) -> None:
    """Write the ``tracklets.csv`` sidecar (image, scene, camera, tracklet, identity; one row per image, by name)."""
    order = np.argsort(plan.names)
    with atomic_write(path, "w") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(TRACKLET_COLUMNS)
        for i in order:
            w.writerow((plan.names[i], int(plan.scene[i]), int(plan.camera[i]), int(plan.tracklet[i]), int(plan.identity[i])))


def read_tracklets(root: str | Path):
    """The ``tracklets.csv`` sidecar of a rendered dataset as a DataFrame (per image: scene, camera, tracklet, identity)."""
    import pandas as pd

    path = Path(root) / "tracklets.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tracklets.csv; render the dataset with `python -m pa100k synth`")
    df = pd.read_csv(path, dtype={"image": str})
    missing = [c for c in TRACKLET_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {list(TRACKLET_COLUMNS)}, found {list(df.columns)}")
    return df


def marker(root: str | Path) -> dict | None:
    """The ``synthetic.json`` of a rendered dataset, or None where there is none."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def render_dataset(out: str | Path, preset: str | SyntheticPreset = "small", seed: int = 0,
                   workers: int | None = None, progress: bool = True) -> Path:
    """Render ``preset`` with ``seed`` into ``out`` in the official layout; atomic: a temp folder renamed when complete."""
    p = get_preset(preset)
    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out}: exists and is not an empty folder; choose another --out or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    plan = plan_dataset(p, seed)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        n = render_images(plan, tmp / "data", workers=workers, progress=progress)
        write_annotation(plan, tmp / "annotation.mat")
        write_tracklets(plan, tmp / "tracklets.csv")
        info = {
            "generator": "pa100k.synthetic", "format_version": FORMAT_VERSION, "preset": p.name, "seed": int(seed),
            "num_images": int(n), "num_tracklets": plan.num_tracklets, "num_identities": len(plan.identity_labels),
            "num_cameras": len(plan.camera_scene), "num_scenes": p.num_scenes,
            "splits": {k: len(v) for k, v in plan.splits.items()}, "config": asdict(p),
            "render_seconds": round(time.perf_counter() - t0, 2),
        }
        with atomic_write(tmp / MARKER) as fh:
            json.dump(info, fh, indent=2)
        if out.exists():
            out.rmdir()
        try:
            os.rename(tmp, out)
        except OSError:
            if not _matches(marker(out), p.name, seed):
                raise
            log.info("%s: rendered meanwhile by another process; keeping that copy", out)
            shutil.rmtree(tmp, ignore_errors=True)
            return out
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("rendered %s (seed %d): %d images in %.1f s -> %s", p.name, seed, n, time.perf_counter() - t0, out)
    return out


def _matches(info: dict | None, preset: str, seed: int) -> bool:
    return bool(info) and info.get("preset") == preset and int(info.get("seed", -1)) == int(seed) \
        and info.get("format_version") == FORMAT_VERSION


def ensure_rendered(root: str | Path, preset: str | SyntheticPreset = "small", seed: int = 0,
                    workers: int | None = None, progress: bool = True) -> Path:
    """Render ``preset``/``seed`` into ``root`` unless it already holds exactly that render; returns ``root``.

    A folder that holds another preset or seed, or files that are not a synthetic render, raises ValueError.
    """
    p = get_preset(preset)
    root = Path(root).expanduser()
    info = marker(root)
    if info is not None:
        if not _matches(info, p.name, seed):
            raise ValueError(
                f"{root / MARKER}: holds preset {info.get('preset')!r} seed {info.get('seed')} "
                f"(format {info.get('format_version')}), asked for preset {p.name!r} seed {seed} "
                f"(format {FORMAT_VERSION}); use another root or remove that folder"
            )
        return root
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValueError(f"{root}: not empty and has no {MARKER}; it is not a synthetic render (choose another root)")
    log.info("rendering synthetic preset %s (seed %d) into %s (first use)", p.name, seed, root)
    return render_dataset(root, p, seed, workers=workers, progress=progress)
