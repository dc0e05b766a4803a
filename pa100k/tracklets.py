"""Estimated tracklets for releases that ship none (the public PA-100K): link images that agree in labels and look.

PA-100K was split by tracklet (Liu et al. 2017, Sec. 3), but its release carries no tracklet ids, so nobody
can check the official split for leakage. :func:`infer` estimates them: two images are linked when their
label vectors agree (Hamming distance over the attributes that do not change within a tracklet) and their
cheap appearance descriptors (a 8x16 colour thumbnail and a joint colour histogram) are close, either as
neighbours in name order (when the release lists a tracklet's frames one after another) or as mutual
nearest neighbours; the connected components of the links (union-find) are the estimated tracklets.
:func:`pairwise_precision_recall` scores an estimate against known tracklets (the synthetic dataset's).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from pa100k.attribute_set import AttributeSet

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackletConfig:
    """How :func:`infer` describes and links images; the defaults are those measured in benchmarks/perf/splits.py.

    Distances between descriptors are cosine distances in [0, 2]. Thresholds are not absolute: each is the
    given quantile of the distances between random pairs of images of the same data whose labels show they are
    different people, so one configuration fits renderings and real photographs, small sets and large.
    """

    thumbnail: tuple[int, int] = (8, 16)  # (width, height) of the colour thumbnail
    hist_bins: int = 4  # per channel, for a bins**3 joint colour histogram of the central part of the image
    hist_weight: float = 1.0  # weight of the histogram against the thumbnail
    # attributes that may change from frame to frame of one person (viewpoint), left out of label agreement
    frame_attributes: tuple[str, ...] = ("Front", "Side", "Back")
    max_label_distance: int = 1  # labels (outside frame_attributes) that linked images may disagree on
    neighbours: int = 4  # k of the mutual k-nearest-neighbour links; 0 turns them off
    link_quantile: float = 0.003  # a mutual-neighbour link needs a distance below this quantile of different people
    consecutive: bool | None = None  # link neighbours in name order; None: only if the order looks informative
    consecutive_quantile: float = 0.05  # the (looser) quantile for consecutive links
    sample_pairs: int = 50_000  # random pairs used to set the thresholds
    batch_size: int = 512  # query rows per block of the neighbour search
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("link_quantile", "consecutive_quantile"):
            q = getattr(self, name)
            if not 0.0 < q < 1.0:
                raise ValueError(f"TrackletConfig.{name} must be in (0, 1), found {q}")
        if self.neighbours < 0 or self.max_label_distance < 0 or self.hist_bins < 1:
            raise ValueError(
                "TrackletConfig: neighbours and max_label_distance must be >= 0 and hist_bins >= 1, found "
                f"{self.neighbours}, {self.max_label_distance}, {self.hist_bins}"
            )


# --------------------------------------------------------------------------------------------------
# descriptors


def describe_image(img: PILImage, config: TrackletConfig = TrackletConfig()) -> np.ndarray:
    """Unit-norm appearance descriptor of one PIL image: colour thumbnail (mean removed) + sqrt colour histogram."""
    from PIL import Image

    w, h = config.thumbnail
    img = img.convert("RGB")
    thumb = np.asarray(img.resize((w, h), Image.Resampling.BOX), dtype=np.float32).reshape(-1) / 255.0
    thumb -= thumb.mean()
    thumb /= max(float(np.linalg.norm(thumb)), 1e-6)
    small = np.asarray(img.resize((2 * w, 2 * h), Image.Resampling.BOX), dtype=np.int64)
    centre = small[:, w // 2: w // 2 + w].reshape(-1, 3)  # the middle half of the width, where the person is
    bins = config.hist_bins
    cell = (centre * bins // 256) @ np.array([bins * bins, bins, 1])
    hist = np.sqrt(np.bincount(cell, minlength=bins**3) / len(cell)).astype(np.float32)  # unit norm (Hellinger)
    out = np.concatenate([thumb, config.hist_weight * hist])
    return out / np.sqrt(1.0 + config.hist_weight**2)


def image_descriptors(
    attribute_set: AttributeSet, indices: np.ndarray | None = None, config: TrackletConfig = TrackletConfig()
) -> np.ndarray:
    """``(n, d)`` float32 descriptors of the images at ``indices`` (default: all), in that order."""
    from tqdm.auto import tqdm

    indices = np.arange(len(attribute_set)) if indices is None else np.asarray(indices, dtype=np.int64)
    rows = [
        describe_image(attribute_set.open_image(int(i)), config)
        for i in tqdm(indices, desc="describing images", unit="img", disable=len(indices) < 2000, leave=False)
    ]
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack(rows).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# linking


def _label_parts(attribute_set: AttributeSet, indices: np.ndarray, config: TrackletConfig) -> tuple[np.ndarray, np.ndarray]:
    """Known-positive and known-negative indicator matrices (float32) over the stable attributes."""
    unknown = [a for a in config.frame_attributes if a not in attribute_set.schema.attributes]
    if unknown:
        log.debug("frame_attributes not in schema %r (ignored): %s", attribute_set.schema.name, unknown)
    keep = [j for j, a in enumerate(attribute_set.schema.attributes) if a not in config.frame_attributes]
    labels = attribute_set.labels[indices][:, keep].astype(bool)
    known = attribute_set.known()[indices][:, keep]
    return (labels & known).astype(np.float32), (~labels & known).astype(np.float32)


def _label_distance(pos: np.ndarray, neg: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance over known labels between rows ``a`` and ``b`` (paired, same length)."""
    return (pos[a] * neg[b]).sum(1) + (neg[a] * pos[b]).sum(1)


def _different_person_distances(
    desc: np.ndarray, pos: np.ndarray, neg: np.ndarray, config: TrackletConfig
) -> np.ndarray:
    """Descriptor distances of random pairs whose labels rule out one person (the scale of the thresholds).

    Pairs that disagree on more than ``max_label_distance`` stable labels cannot be one tracklet, so their
    distances describe different people whatever the number of tracklets; all random pairs are used only
    when too few such pairs exist (nearly identical labels everywhere).
    """
    n = len(desc)
    rng = np.random.default_rng(config.seed)
    a = rng.integers(0, n, config.sample_pairs)
    b = (a + rng.integers(1, n, config.sample_pairs)) % n  # never a == b
    apart = _label_distance(pos, neg, a, b) > config.max_label_distance
    if apart.sum() >= min(100, config.sample_pairs // 2):
        a, b = a[apart], b[apart]
    else:
        log.warning("only %d of %d random pairs differ in labels; thresholds use all pairs", apart.sum(), len(a))
    return 1.0 - np.einsum("ij,ij->i", desc[a], desc[b])


MAX_LABEL_FLIPS = 1000  # beyond this many compatible label vectors per vector, search all pairs instead


def _candidate_blocks(pos: np.ndarray, neg: np.ndarray, max_distance: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(queries, candidates)`` index pairs that together hold every label-compatible pair of images.

    With every stable label known, images with the same label vector form a block whose candidates are the
    images whose vectors differ in at most ``max_distance`` bits (found by flipping bits, not by comparing all
    pairs); with unknown labels, or too many flips, one block holds everything.
    """
    n, a = pos.shape
    everything = np.arange(n)
    flips = [sum(1 << j for j in c) for d in range(1, max_distance + 1) for c in combinations(range(a), d)]
    if a > 62 or len(flips) > MAX_LABEL_FLIPS or (pos + neg < 1).any():
        return [(everything, everything)]
    signature = pos.astype(np.int64) @ (np.int64(1) << np.arange(a, dtype=np.int64))
    uniq, inverse = np.unique(signature, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(inverse.reshape(-1)))[:-1])
    where = {s: g for g, s in enumerate(uniq.tolist())}
    blocks = []
    for g, s in enumerate(uniq.tolist()):
        near = [members[g]] + [members[where[s ^ f]] for f in flips if s ^ f in where]
        blocks.append((members[g], np.concatenate(near)))
    return blocks


def _mutual_neighbour_links(
    desc: np.ndarray, pos: np.ndarray, neg: np.ndarray, threshold: float, config: TrackletConfig
) -> np.ndarray:
    """``(m, 2)`` pairs that are among each other's k nearest label-compatible neighbours, closer than threshold."""
    from tqdm.auto import tqdm

    n, k = len(desc), config.neighbours
    src, dst = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    blocks = _candidate_blocks(pos, neg, config.max_label_distance)
    for queries, candidates in tqdm(blocks, desc="neighbours", unit="block", disable=n < 20_000, leave=False):
        kk = min(k, len(candidates))
        for start in range(0, len(queries), config.batch_size):
            q = queries[start:start + config.batch_size]
            sim = desc[q] @ desc[candidates].T  # (b, c)
            disagree = pos[q] @ neg[candidates].T + neg[q] @ pos[candidates].T
            sim[(disagree > config.max_label_distance) | (q[:, None] == candidates[None, :])] = -np.inf
            near = np.argpartition(-sim, kk - 1, axis=1)[:, :kk]
            ok = np.take_along_axis(sim, near, axis=1) > 1.0 - threshold
            src.append(np.broadcast_to(q[:, None], near.shape)[ok])
            dst.append(candidates[near][ok])
    src_all, dst_all = np.concatenate(src), np.concatenate(dst)
    mutual = np.isin(dst_all * n + src_all, src_all * n + dst_all) & (src_all < dst_all)  # each pair once
    return np.stack([src_all[mutual], dst_all[mutual]], axis=1)


def _consecutive_links(
    names: np.ndarray, desc: np.ndarray, pos: np.ndarray, neg: np.ndarray, random_d: np.ndarray, config: TrackletConfig
) -> np.ndarray:
    """``(m, 2)`` pairs of images next to each other in name order that agree in labels and look."""
    order = np.argsort(names, kind="stable")
    a, b = order[:-1], order[1:]
    if not len(a):
        return np.zeros((0, 2), dtype=np.int64)
    dist = 1.0 - np.einsum("ij,ij->i", desc[a], desc[b])
    threshold = float(np.quantile(random_d, config.consecutive_quantile))
    use = config.consecutive
    if use is None:
        use = bool(np.median(dist) < threshold)
        log.info(
            "name order %s informative (median distance of neighbours in name order %.3f, %.0f%% quantile of "
            "different people %.3f)", "is" if use else "is not", np.median(dist), 100 * config.consecutive_quantile,
            threshold,
        )
    if not use:
        return np.zeros((0, 2), dtype=np.int64)
    ok = (dist <= threshold) & (_label_distance(pos, neg, a, b) <= config.max_label_distance)
    return np.stack([a[ok], b[ok]], axis=1)


def _renumber(root: np.ndarray) -> np.ndarray:
    """Component labels numbered 0.. in order of their first image."""
    _, first, inverse = np.unique(root, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def link_components(
    n: int,
    links: np.ndarray,
    descriptors: np.ndarray | None = None,
    limits: np.ndarray | float | None = None,
) -> np.ndarray:
    """Group ``n`` images by ``(m, 2)`` links with a union-find; numbered 0.. in order of their first image.

    Without ``descriptors`` every link merges (connected components). With them, links are taken shortest
    first and merge two groups only while the distance between the groups' mean descriptors stays within
    the link's ``limits`` (scalar or one per link): a chain of look-alikes cannot grow one group without end.
    """
    links = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if descriptors is None:
        for i, j in links.tolist():
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    else:
        desc = np.asarray(descriptors, dtype=np.float32)
        limit = np.broadcast_to(np.asarray(np.inf if limits is None else limits, dtype=float), (len(links),))
        length = 1.0 - np.einsum("ij,ij->i", desc[links[:, 0]], desc[links[:, 1]])
        sums = desc.copy()  # per group root: the sum of its members' descriptors
        for k in np.argsort(length, kind="stable").tolist():
            ri, rj = find(int(links[k, 0])), find(int(links[k, 1]))
            if ri == rj:
                continue
            a, b = sums[ri], sums[rj]
            gap = 1.0 - float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12)
            if gap > limit[k]:
                continue
            keep, gone = min(ri, rj), max(ri, rj)
            parent[gone] = keep
            sums[keep] += sums[gone]
    return _renumber(np.array([find(i) for i in range(n)], dtype=np.int64))


def infer(
    attribute_set: AttributeSet,
    split: str | None = None,
    config: TrackletConfig | None = None,
    descriptors: np.ndarray | None = None,
) -> np.ndarray:
    """Estimated tracklet ids (0-based int64) of the images of ``split`` (default: all), in split order.

    Parameters
    ----------
    attribute_set : images and labels; the names give the release order.
    split : restrict linking to this split (``None``/``"all"``: every image, which is what a leakage check needs).
    config : descriptor and linking settings, :class:`TrackletConfig` by default.
    descriptors : precomputed :func:`image_descriptors` of the same images (to try several configs cheaply).

    Notes
    -----
    Links: (1) images next to each other in name order, if their labels agree and their descriptors are
    closer than the ``consecutive_quantile`` of different-person distances (automatically off when the name order
    does not look informative); (2) mutual k-nearest neighbours among label-compatible images, closer than the
    ``link_quantile`` of different-person distances. Tracklets are the connected components of the links.
    """
    config = config or TrackletConfig()
    indices = attribute_set.split_indices(split)
    n = len(indices)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if descriptors is None:
        descriptors = image_descriptors(attribute_set, indices, config)
    descriptors = np.asarray(descriptors, dtype=np.float32)
    if descriptors.ndim != 2 or len(descriptors) != n:
        raise ValueError(f"descriptors: expected one row per image of split {split!r} ({n}), found shape {descriptors.shape}")
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    pos, neg = _label_parts(attribute_set, indices, config)
    random_d = _different_person_distances(descriptors, pos, neg, config)
    consecutive = _consecutive_links(attribute_set.names[indices], descriptors, pos, neg, random_d, config)
    links, limits = [consecutive], [np.full(len(consecutive), np.quantile(random_d, config.consecutive_quantile))]
    if config.neighbours:
        threshold = float(np.quantile(random_d, config.link_quantile))
        neighbours = _mutual_neighbour_links(descriptors, pos, neg, threshold, config)
        links.append(neighbours)
        limits.append(np.full(len(neighbours), threshold))
    tracklets = link_components(n, np.concatenate(links), descriptors, np.concatenate(limits))
    log.info("%d images linked into %d estimated tracklets", n, int(tracklets.max()) + 1)
    return tracklets


# --------------------------------------------------------------------------------------------------
# scoring


def pair_counts(pred: np.ndarray, true: np.ndarray) -> tuple[int, int, int]:
    """``(correct, predicted, true)`` numbers of image pairs put together by both, by ``pred``, by ``true``."""
    pred, true = np.asarray(pred).reshape(-1), np.asarray(true).reshape(-1)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same length, found {len(pred)} and {len(true)}")

    def pairs(*columns: np.ndarray) -> int:
        if not len(columns[0]):
            return 0
        _, counts = np.unique(np.stack(columns, axis=1), axis=0, return_counts=True)
        counts = counts.astype(np.int64)
        return int((counts * (counts - 1) // 2).sum())

    p_ids, t_ids = np.unique(pred, return_inverse=True)[1], np.unique(true, return_inverse=True)[1]
    return pairs(p_ids, t_ids), pairs(p_ids), pairs(t_ids)


def pairwise_precision_recall(pred: np.ndarray, true: np.ndarray, zero_division: float = 1.0) -> tuple[float, float]:
    """Pairwise precision and recall of an estimated grouping ``pred`` against the true one.

    Precision is the share of image pairs that ``pred`` groups together which ``true`` also groups together;
    recall the share of ``true``'s pairs that ``pred`` recovers. A ratio with no pairs to count (every image
    alone) is ``zero_division`` (1.0: no pair was claimed wrongly / none was missed).
    """
    correct, predicted, actual = pair_counts(pred, true)
    precision = correct / predicted if predicted else zero_division
    recall = correct / actual if actual else zero_division
    return float(precision), float(recall)
