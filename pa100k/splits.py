"""Tracklet-aware and identity-disjoint splits, their report, and writing them out (JSON, ``annotation.mat``).

PA-100K (Liu et al. 2017, Sec. 3) is split 8:1:1 *by tracklet*: all frames of one tracklet sit in one split
and every split holds positives and negatives of all 26 attributes. :func:`tracklet_split` rebuilds such a
split from per-image tracklet ids with a grouped multi-label iterative stratification (Sechidis et al. 2011,
applied to whole groups instead of single images), followed by deterministic repair and balancing steps.
:func:`identity_split` does the same with identities, giving a zero-shot split like PETAzs / RAPzs
(Jia et al. 2021) in which no person appears in two splits.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.fileio import atomic_path, atomic_write
from pa100k.registry import Registry

log = logging.getLogger(__name__)

SPLIT_KEYS = ("train", "val", "test")
RATIO_TOLERANCE_PP = 0.5  # image shares within this many percentage points of the ratios count as hit
EXACT_ERROR_LADDER_PP = (RATIO_TOLERANCE_PP, 1.0, 2.0, 5.0, 10.0, 20.0)  # bounds it tries, tightest first
EXACT_MAX_GROUPS = 5000  # the integer-program polish runs only on instances up to this many groups
EXACT_NODE_LIMIT = 1000  # branch-and-bound nodes for it (a node limit, unlike a time limit, is deterministic)
ANNOTATION_FILE = "annotation.mat"
ANNOTATION_BACKUP = "annotation.orig.mat"

Splitter = Callable[..., dict[str, np.ndarray]]
SPLITTERS: Registry[Splitter] = Registry("splitter")


# --------------------------------------------------------------------------------------------------
# input checks


def _fractions(ratios: Sequence[float]) -> np.ndarray:
    """``ratios`` normalised to fractions; one positive finite ratio per split in SPLIT_KEYS."""
    r = np.asarray(ratios, dtype=float)
    if r.shape != (len(SPLIT_KEYS),) or not np.isfinite(r).all() or (r <= 0).any():
        raise ValueError(
            f"ratios must be {len(SPLIT_KEYS)} positive numbers for {'/'.join(SPLIT_KEYS)}, found {list(ratios)!r}"
        )
    return r / r.sum()


def _meta_groups(attribute_set: AttributeSet, column: str, hint: str) -> np.ndarray:
    """The meta column ``column`` of ``attribute_set`` or a ValueError that says how to get one."""
    if column not in attribute_set.meta:
        have = ", ".join(sorted(attribute_set.meta)) or "(none)"
        raise ValueError(
            f"{attribute_set.dataset or 'AttributeSet'}: no meta[{column!r}] column to group images by "
            f"(meta columns: {have}); {hint}"
        )
    return attribute_set.meta[column]


def _group_inverse(groups: np.ndarray, n: int, what: str) -> tuple[np.ndarray, int]:
    """Dense 0-based group numbers per image and the number of groups."""
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"{what}: expected one group id per image, shape ({n},), found {groups.shape}")
    if groups.dtype.kind == "f" and np.isnan(groups).any():
        raise ValueError(f"{what}: group ids contain NaN at image {int(np.flatnonzero(np.isnan(groups))[0])}")
    _, inverse = np.unique(groups, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.int64)
    return inverse, int(inverse.max()) + 1 if n else 0


def _group_label_counts(attribute_set: AttributeSet, inverse: np.ndarray, n_groups: int) -> np.ndarray:
    """``(G, 2A)`` counts per group: known positives of each attribute, then known negatives."""
    known = attribute_set.known()
    pos = attribute_set.labels.astype(bool)
    per_image = np.concatenate([pos & known, ~pos & known], axis=1).astype(np.int64)
    order = np.argsort(inverse, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])
    return np.add.reduceat(per_image[order], starts, axis=0) if n_groups else per_image[:0]


def _label_name(attribute_set: AttributeSet, label: int) -> str:
    """Label ``label`` of the (G, 2A) count matrix in words."""
    a = attribute_set.schema.num_attributes
    kind = "positive" if label < a else "negative"
    return f"{kind} images of attribute {attribute_set.schema.attributes[label % a]!r}"


# --------------------------------------------------------------------------------------------------
# grouped multi-label iterative stratification


def _integer_targets(fractions: np.ndarray, total: int) -> np.ndarray:
    """Image counts per split that sum to ``total`` (largest remainder)."""
    raw = fractions * total
    out = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


class _Stratifier:
    """State of one grouped stratification: group → split assignment and per-split label tallies.

    ``counts[g, l]`` is the number of images of group g carrying label l (labels are the positives and the
    negatives of every attribute, so a rare negative, e.g. not Age18-60, is stratified like a rare positive).
    ``cover[s, l]`` counts the groups in split s that carry label l; coverage means ``cover >= 1`` everywhere.
    """

    def __init__(self, counts: np.ndarray, sizes: np.ndarray, fractions: np.ndarray, rank: np.ndarray) -> None:
        self.counts = counts
        self.has = counts > 0
        self.sizes = sizes
        self.rank = rank
        n_splits, n_labels = len(fractions), counts.shape[1]
        self.fractions = fractions
        self.target = _integer_targets(fractions, int(sizes.sum()))
        total = counts.sum(0).astype(float)
        self.desire = fractions[:, None] * total[None, :]
        self.inv_desire = 1.0 / np.maximum(self.desire, 1e-9)
        self.assign = np.full(len(sizes), -1, dtype=np.int64)
        self.label_sum = np.zeros((n_splits, n_labels), dtype=np.int64)
        self.cover = np.zeros((n_splits, n_labels), dtype=np.int64)
        self.images = np.zeros(n_splits, dtype=np.int64)
        self.unassigned = self.has.sum(0)
        # how much moving a group disturbs the stratification: rare labels weigh more
        n_with = np.maximum(self.has.sum(0), 1)
        self.rarity = (self.has / n_with).sum(1)

    def share_error_pp(self) -> float:
        """Largest distance, in percentage points, between a split's share of the images and its ratio."""
        return float(100.0 * np.abs(self.images / self.sizes.sum() - self.fractions).max())

    def place(self, g: int, s: int) -> None:
        """Put group ``g`` into split ``s`` (moving it if it was placed before)."""
        prev = self.assign[g]
        if prev == s:
            return
        if prev >= 0:
            self.label_sum[prev] -= self.counts[g]
            self.cover[prev] -= self.has[g]
            self.images[prev] -= self.sizes[g]
        else:
            self.unassigned -= self.has[g]
        self.assign[g] = s
        self.label_sum[s] += self.counts[g]
        self.cover[s] += self.has[g]
        self.images[s] += self.sizes[g]

    def _choose(self, g: int, label: int) -> int:
        """Split for group ``g`` (placed for ``label``): among splits with room, the one whose unmet needs it fills best.

        With ``c = counts[g]`` and ``need = desire - label_sum``, split s scores
        ``sum_l c_l (2 need[s, l] - c_l) / desire[s, l]``, the drop of the chi-square distance
        ``sum_l (label_sum[s, l] - desire[s, l])**2 / desire[s, l]`` if g joins s. Rare labels (small desire),
        ``label`` first among them, weigh most, and a small split is not overfilled with a common label.
        Ties go to the larger unmet need for ``label``, then to more room.
        """
        room = self.target - self.images
        fits = room >= self.sizes[g]
        if not fits.any():
            fits[:] = True
        need = self.desire - self.label_sum
        c = self.counts[g]
        score = ((2.0 * need - c) * self.inv_desire) @ c
        best, best_key = -1, None
        for s in np.flatnonzero(fits):
            key = (score[s], need[s, label], room[s])
            if best_key is None or key > best_key:
                best, best_key = int(s), key
        return best

    def stratify(self) -> None:
        """Iterative stratification: the label carried by the fewest unassigned groups goes first."""
        n_labels = self.counts.shape[1]
        done = np.zeros(n_labels, dtype=bool)
        small_first = np.argsort(self.target, kind="stable")
        while True:
            active = ~done & (self.unassigned > 0)
            if not active.any():
                break
            label = int(np.argmin(np.where(active, self.unassigned, np.iinfo(np.int64).max)))
            done[label] = True
            members = np.flatnonzero(self.has[:, label] & (self.assign < 0))
            # every split that lacks this label gets one of its smallest groups first
            lacking = [int(s) for s in small_first if self.cover[s, label] == 0]
            if lacking:
                smallest = members[np.lexsort((self.rank[members], self.sizes[members]))]
                for s, g in zip(lacking, smallest):
                    self.place(int(g), s)
                members = members[self.assign[members] < 0]
            for g in members[np.lexsort((self.rank[members], -self.counts[members, label]))]:
                self.place(int(g), self._choose(int(g), label))
        # groups without any known label: wherever there is most room
        for g in np.flatnonzero(self.assign < 0):
            self.place(int(g), int(np.argmax(self.target - self.images)))

    def _removable(self, groups: np.ndarray, s: int, arriving: np.ndarray | None = None) -> np.ndarray:
        """Which of ``groups`` (all in split s) can leave s without s losing a label (``arriving`` joins s)."""
        cover = self.cover[s] if arriving is None else self.cover[s] + arriving
        return ~(self.has[groups] & (cover < 2)[None, :]).any(1)

    def repair(self, describe: Callable[[int], str], split_names: Sequence[str]) -> None:
        """Give every split a group of every label, moving or swapping groups that are not needed elsewhere."""
        while True:
            missing = np.argwhere(self.cover == 0)
            if not len(missing):
                return
            # the label with fewest groups first
            s, label = (int(v) for v in missing[np.argmin(self.has.sum(0)[missing[:, 1]])])
            if self._repair_one(s, label):
                continue
            solved = self.solve_exact()
            if not solved:
                how = "checked exactly" if solved is False else f"none found in {EXACT_NODE_LIMIT} search nodes"
                raise ValueError(
                    f"no assignment of whole groups gives every split positives and negatives of every attribute "
                    f"({how}): split {split_names[s]!r} cannot get any {describe(label)} "
                    f"({int(self.has[:, label].sum())} groups carry them) without another split losing a label "
                    f"that the same groups carry; use fewer splits or drop the attribute"
                )
            return

    def _repair_one(self, s: int, label: int) -> bool:
        """Move (or swap in) one group carrying ``label`` into split ``s``; False if impossible."""
        donors = np.flatnonzero(self.has[:, label] & (self.assign != s))
        donors = donors[np.lexsort((self.rank[donors], self.sizes[donors]))]
        for g in donors:
            src = int(self.assign[g])
            if self._removable(np.array([g]), src)[0]:
                self.place(int(g), s)
                return True
        # a swap: g leaves src for s, and some h of s, carrying what src would lose, goes back
        for g in donors:
            src = int(self.assign[g])
            orphan = self.has[g] & (self.cover[src] < 2)
            back = np.flatnonzero(self.assign == s)
            ok = self.has[back][:, orphan].all(1) & self._removable(back, s, arriving=self.has[g])
            if ok.any():
                back = back[ok]
                h = back[np.lexsort((self.rank[back], np.abs(self.sizes[back] - self.sizes[g])))][0]
                self.place(int(g), s)
                self.place(int(h), src)
                return True
        return False

    def solve_exact(self, max_error_pp: float | None = None, node_limit: int = EXACT_NODE_LIMIT) -> bool | None:
        """Reassign groups by an integer program (HiGHS) so that every split covers every label.

        With ``max_error_pp`` the image shares must also lie within that many percentage points of the ratios,
        and among such assignments the one that moves fewest groups is taken (the stratification found so far
        is kept where the constraints allow); without it, fewest moves under coverage alone. Returns True when
        a solution was applied, False when none exists (proven), None when ``node_limit`` branch-and-bound
        nodes found none.
        """
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import coo_matrix, csr_matrix, vstack

        n_groups, n_labels = self.has.shape
        n_splits = len(self.target)
        n_x = n_groups * n_splits  # x[g * n_splits + s] = 1 if group g is in split s
        var = np.arange(n_x).reshape(n_groups, n_splits)
        one_split = csr_matrix((np.ones(n_x), (np.repeat(np.arange(n_groups), n_splits), var.ravel())),
                               shape=(n_groups, n_x))
        g_idx, l_idx = np.nonzero(self.has)
        rows = (l_idx[:, None] * n_splits + np.arange(n_splits)[None, :]).ravel()
        cover = coo_matrix((np.ones(rows.size), (rows, var[g_idx].ravel())), shape=(n_labels * n_splits, n_x))
        blocks = [one_split, cover]
        lower = [np.ones(n_groups), np.ones(n_labels * n_splits)]
        upper = [np.ones(n_groups), np.full(n_labels * n_splits, np.inf)]
        if max_error_pp is not None:
            total = float(self.sizes.sum())
            blocks.append(coo_matrix((np.repeat(self.sizes, n_splits).astype(float),
                                      (np.tile(np.arange(n_splits), n_groups), var.ravel())), shape=(n_splits, n_x)))
            lower.append(np.ceil((self.fractions - max_error_pp / 100.0) * total - 1e-9))
            upper.append(np.floor((self.fractions + max_error_pp / 100.0) * total + 1e-9))
        cost = np.zeros(n_x)
        placed = self.assign >= 0
        cost[var[np.flatnonzero(placed), self.assign[placed]]] = -1.0  # fewest moves
        result = milp(
            cost, constraints=LinearConstraint(vstack(blocks).tocsr(), np.concatenate(lower), np.concatenate(upper)),
            integrality=np.ones(n_x), bounds=Bounds(0, 1), options={"node_limit": node_limit},
        )
        if result.x is None:
            return False if result.status == 2 else None
        for g, s in enumerate(np.argmax(result.x.reshape(n_groups, n_splits), axis=1)):
            self.place(g, int(s))
        return True

    def balance(self) -> None:
        """Move, then swap, groups from over-full to under-full splits while the image counts improve."""
        while True:
            dev = self.images - self.target
            if not dev.any():
                return
            pairs = [(int(a), int(b)) for a in np.argsort(-dev, kind="stable") for b in np.argsort(dev, kind="stable")
                     if dev[a] > 0 > dev[b]]
            if not any(self._move_best(a, b, dev) for a, b in pairs) and not any(
                self._swap_best(a, b, dev) for a, b in pairs
            ):
                return

    @staticmethod
    def _gain(dev: np.ndarray, src: int, dst: int, delta: np.ndarray) -> np.ndarray:
        """How much sum |deviation| drops when ``delta`` images go from ``src`` to ``dst``."""
        before = abs(dev[src]) + abs(dev[dst])
        return before - (np.abs(dev[src] - delta) + np.abs(dev[dst] + delta))

    def _move_best(self, src: int, dst: int, dev: np.ndarray) -> bool:
        groups = np.flatnonzero(self.assign == src)
        groups = groups[self._removable(groups, src)]
        if not len(groups):
            return False
        gain = self._gain(dev, src, dst, self.sizes[groups])
        if gain.max() <= 0:
            return False
        best = groups[np.lexsort((self.rank[groups], self.rarity[groups], -gain))][0]
        self.place(int(best), dst)
        return True

    def _swap_best(self, src: int, dst: int, dev: np.ndarray) -> bool:
        out = np.flatnonzero(self.assign == src)
        back = np.flatnonzero(self.assign == dst)
        out, back = out[self._removable(out, src)], back[self._removable(back, dst)]
        if not len(out) or not len(back):
            return False
        # one representative (least disturbing) group per size on each side
        out = out[np.lexsort((self.rank[out], self.rarity[out]))]
        back = back[np.lexsort((self.rank[back], self.rarity[back]))]
        size_out, first_out = np.unique(self.sizes[out], return_index=True)
        size_back, first_back = np.unique(self.sizes[back], return_index=True)
        delta = size_out[:, None] - size_back[None, :]
        gain = self._gain(dev, src, dst, delta)
        i, j = np.unravel_index(np.argmax(gain), gain.shape)
        if gain[i, j] <= 0:
            return False
        self.place(int(out[first_out[i]]), dst)
        self.place(int(back[first_back[j]]), src)
        return True


def grouped_split(
    attribute_set: AttributeSet,
    groups: np.ndarray,
    ratios: Sequence[float] = (8, 1, 1),
    seed: int = 0,
    group_name: str = "group",
) -> dict[str, np.ndarray]:
    """Split whole groups into train/val/test by grouped multi-label iterative stratification.

    Parameters
    ----------
    attribute_set : the images and labels (unknown labels, ``mask == False``, count as neither class).
    groups : one id per image; images sharing an id always land in the same split.
    ratios : relative sizes of train, val and test, in images.
    seed : orders ties; the same seed gives the same split.
    group_name : what a group is ("tracklet", "identity"), for messages.

    Returns
    -------
    ``{"train", "val", "test"}`` → sorted 0-based image indices.

    Notes
    -----
    1. Stratify (Sechidis et al. 2011, on groups): each attribute contributes two labels, its positive and
       its negative images. Repeatedly take the label carried by the fewest unassigned groups; first give each
       split that lacks it one of its smallest groups, then place its other groups, largest first, each in
       the split (among those with room for it) whose label counts it brings closest to their targets, in
       the chi-square sense over all labels (rare ones weigh most).
    2. Repair: a split still lacking a label receives a group that its split can spare (or a swap); if that
       is stuck, an integer program over all groups decides (and proves impossibility).
    3. Balance: move or swap spare groups between over- and under-full splits while the image counts get
       closer to the target; on small, tight instances still off by more than ``RATIO_TOLERANCE_PP``, an
       integer program finds the assignment within the tolerance that moves fewest groups.
    No step is random; ``seed`` only orders groups that the criteria cannot tell apart.

    Raises
    ------
    ValueError if some attribute's positive (or negative) images lie in fewer groups than there are splits,
    naming the attribute, or if ratios/groups are malformed.
    """
    fractions = _fractions(ratios)
    n = len(attribute_set)
    if n == 0:
        raise ValueError(f"{attribute_set.dataset or 'AttributeSet'}: cannot split an empty attribute set")
    inverse, n_groups = _group_inverse(groups, n, f"{group_name} ids")
    counts = _group_label_counts(attribute_set, inverse, n_groups)
    has = counts > 0
    per_label = has.sum(0)
    short = np.flatnonzero(per_label < len(SPLIT_KEYS))
    if len(short):
        first, others = int(short[0]), [int(l) for l in short[1:]]
        also = "; also " + ", ".join(
            f"{_label_name(attribute_set, l)} in {int(per_label[l])}" for l in others
        ) if others else ""
        raise ValueError(
            f"cannot give each of the {len(SPLIT_KEYS)} splits ({'/'.join(SPLIT_KEYS)}) positives and negatives of "
            f"every attribute: the {_label_name(attribute_set, first)} lie in only {int(per_label[first])} "
            f"{group_name}(s), and a {group_name} is never divided between splits{also}"
        )
    sizes = np.bincount(inverse, minlength=n_groups).astype(np.int64)
    rank = np.random.default_rng(seed).permutation(n_groups)
    state = _Stratifier(counts, sizes, fractions, rank)
    state.stratify()
    state.repair(lambda l: _label_name(attribute_set, l), SPLIT_KEYS)
    state.balance()
    if state.share_error_pp() > RATIO_TOLERANCE_PP and n_groups <= EXACT_MAX_GROUPS:
        # tight instance (few groups, many rare labels): the local steps got stuck, solve it exactly, asking
        # for the tolerance first and for looser bounds only if that is impossible
        for bound in EXACT_ERROR_LADDER_PP:
            if bound >= state.share_error_pp() or state.solve_exact(max_error_pp=bound):
                break
    share_error = state.share_error_pp()
    if share_error > RATIO_TOLERANCE_PP:
        log.warning(
            "%s split: image shares are up to %.2f pp from the ratios %s (tolerance %.1f pp); the %ss are too "
            "few or too large to do better while every split keeps every label",
            group_name, share_error, list(ratios), RATIO_TOLERANCE_PP, group_name,
        )
    image_split = state.assign[inverse]
    out = {key: np.flatnonzero(image_split == s).astype(np.int64) for s, key in enumerate(SPLIT_KEYS)}
    log.debug("%s split of %d images in %d %ss: %s", group_name, n, n_groups, group_name,
              {k: len(v) for k, v in out.items()})
    return out


@SPLITTERS.register("tracklet")
def tracklet_split(
    attribute_set: AttributeSet,
    ratios: Sequence[float] = (8, 1, 1),
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """PA-100K's split protocol (Liu et al. 2017, Sec. 3): whole tracklets, 8:1:1 in images, all labels everywhere.

    ``groups`` defaults to ``attribute_set.meta["tracklet"]``; see :func:`grouped_split` for the algorithm.
    """
    if groups is None:
        groups = _meta_groups(
            attribute_set, "tracklet",
            "the public PA-100K release ships no tracklet ids: estimate them with "
            "pa100k.tracklets.infer(attribute_set) and pass groups=..., or run "
            "`python -m pa100k split --infer-tracklets`",
        )
    return grouped_split(attribute_set, groups, ratios=ratios, seed=seed, group_name="tracklet")


@SPLITTERS.register("identity")
def identity_split(
    attribute_set: AttributeSet,
    ratios: Sequence[float] = (8, 1, 1),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A zero-shot split in which no identity appears in two splits (as PETAzs / RAPzs, Jia et al. 2021)."""
    groups = _meta_groups(attribute_set, "identity", "identity_split needs per-image person ids in meta['identity']")
    return grouped_split(attribute_set, groups, ratios=ratios, seed=seed, group_name="identity")


# --------------------------------------------------------------------------------------------------
# checks and report


def _named_splits(splits: dict[str, np.ndarray]) -> list[str]:
    """The disjoint splits to report: train/val/test in that order, then any other except trainval."""
    keys = [k for k in SPLIT_KEYS if k in splits]
    return keys + [k for k in splits if k not in keys and k != "trainval"]


def spanning_groups(groups: np.ndarray, splits: dict[str, np.ndarray]) -> np.ndarray:
    """Group ids whose images lie in more than one of the disjoint splits (train/val/test; trainval ignored)."""
    groups = np.asarray(groups)
    split_id = np.full(len(groups), -1, dtype=np.int64)
    for s, key in enumerate(_named_splits(splits)):
        split_id[np.asarray(splits[key], dtype=np.int64)] = s
    inside = split_id >= 0
    uniq, inverse = np.unique(groups[inside], return_inverse=True)
    pairs = np.unique(np.stack([inverse.reshape(-1), split_id[inside]], axis=1), axis=0)
    n_splits = np.bincount(pairs[:, 0], minlength=len(uniq)) if len(pairs) else np.zeros(len(uniq), int)
    return uniq[n_splits > 1]


def split_report(
    attribute_set: AttributeSet,
    splits: dict[str, np.ndarray] | None = None,
    ratios: Sequence[float] | None = None,
):
    """Per attribute and split: positive and negative counts and the positive ratio; summary in ``.attrs``.

    Columns: ``all_ratio``, then per split ``<split>_pos``, ``<split>_neg``, ``<split>_ratio``, and
    ``max_ratio_diff`` (largest |split ratio - overall ratio|). ``.attrs`` holds ``images`` and ``share``
    per split, ``min_positives`` / ``min_negatives`` over attributes and splits, ``missing`` (the
    (split, attribute, "positive"|"negative") triples with no image) and, when ``ratios`` are given,
    ``target_share``, ``share_error_pp`` per split and ``max_share_error_pp``.
    """
    import pandas as pd

    splits = attribute_set.splits if splits is None else splits
    keys = _named_splits(splits)
    if not keys:
        raise ValueError(f"{attribute_set.dataset or 'AttributeSet'}: no splits to report")
    known = attribute_set.known()
    labels = attribute_set.labels.astype(bool)
    cols: dict[str, np.ndarray] = {}
    ratio_all = attribute_set.positive_ratio(None)
    cols["all_ratio"] = ratio_all
    diffs = []
    missing: list[tuple[str, str, str]] = []
    for key in keys:
        idx = np.asarray(splits[key], dtype=np.int64)
        pos = (labels[idx] & known[idx]).sum(0)
        neg = (~labels[idx] & known[idx]).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(pos + neg > 0, pos / np.maximum(pos + neg, 1), np.nan)
        cols[f"{key}_pos"], cols[f"{key}_neg"], cols[f"{key}_ratio"] = pos, neg, ratio
        diffs.append(np.abs(ratio - ratio_all))
        for j, name in enumerate(attribute_set.schema.attributes):
            if pos[j] == 0:
                missing.append((key, name, "positive"))
            if neg[j] == 0:
                missing.append((key, name, "negative"))
    cols["max_ratio_diff"] = np.nanmax(np.stack(diffs), axis=0) if len(keys) else np.nan
    df = pd.DataFrame(cols, index=pd.Index(list(attribute_set.schema.attributes), name="attribute"))
    images = {key: len(splits[key]) for key in keys}
    total = sum(images.values())
    df.attrs["images"] = images
    df.attrs["share"] = {key: images[key] / total if total else float("nan") for key in keys}
    df.attrs["min_positives"] = int(min(df[f"{k}_pos"].min() for k in keys))
    df.attrs["min_negatives"] = int(min(df[f"{k}_neg"].min() for k in keys))
    df.attrs["missing"] = missing
    if ratios is not None:
        if len(ratios) != len(keys):
            raise ValueError(f"ratios: expected {len(keys)} values for {'/'.join(keys)}, found {list(ratios)!r}")
        target = np.asarray(ratios, dtype=float) / float(np.sum(ratios))
        df.attrs["target_share"] = dict(zip(keys, target.tolist()))
        err = {k: float(100.0 * (df.attrs["share"][k] - t)) for k, t in zip(keys, target)}
        df.attrs["share_error_pp"] = err
        df.attrs["max_share_error_pp"] = max(abs(v) for v in err.values())
    return df


def format_split_report(report) -> str:
    """A plain-text rendering of :func:`split_report`'s table and summary."""
    keys = list(report.attrs["images"])
    lines = ["images: " + ", ".join(
        f"{k} {report.attrs['images'][k]} ({100 * report.attrs['share'][k]:.2f}%"
        + (f", {report.attrs['share_error_pp'][k]:+.2f} pp" if "share_error_pp" in report.attrs else "") + ")"
        for k in keys
    )]
    header = f"{'attribute':<20}{'all':>7}" + "".join(f"{k + ' pos/neg':>20}{k + ' %':>9}" for k in keys)
    lines.append(header)
    for name, row in report.iterrows():
        line = f"{name:<20}{100 * row['all_ratio']:>6.2f}%"
        for k in keys:
            line += f"{int(row[k + '_pos']):>12}/{int(row[k + '_neg']):<7}{100 * row[k + '_ratio']:>8.2f}%"
        lines.append(line)
    lines.append(
        f"min positives per attribute per split: {report.attrs['min_positives']}; "
        f"min negatives: {report.attrs['min_negatives']}; "
        f"largest positive-ratio difference: {100 * np.nanmax(report['max_ratio_diff']):.2f} pp"
    )
    if report.attrs["missing"]:
        lines.append("MISSING: " + "; ".join(f"{s} has no {kind} {a}" for s, a, kind in report.attrs["missing"]))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# files


def save_splits_json(
    path: str | Path,
    attribute_set: AttributeSet,
    splits: dict[str, np.ndarray],
    *,
    seed: int | None = None,
    ratios: Sequence[float] | None = None,
    method: str | None = None,
) -> Path:
    """Write ``{"dataset", "seed", "ratios", "method", "train": [names], "val": [...], "test": [...]}``."""
    doc: dict[str, object] = {
        "dataset": attribute_set.dataset,
        "seed": seed,
        "ratios": None if ratios is None else [float(r) for r in ratios],
        "method": method,
    }
    for key in _named_splits(splits):
        doc[key] = attribute_set.names[np.sort(np.asarray(splits[key], dtype=np.int64))].tolist()
    path = Path(path)
    with atomic_write(path) as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    return path


def load_splits_json(path: str | Path, attribute_set: AttributeSet) -> dict[str, np.ndarray]:
    """Read a splits JSON (image names) back as index arrays into ``attribute_set``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: splits file not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    index = {name: i for i, name in enumerate(attribute_set.names.tolist())}
    out: dict[str, np.ndarray] = {}
    seen: dict[str, str] = {}
    for key in SPLIT_KEYS:
        names = doc.get(key) if isinstance(doc, dict) else None
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            found = type(names).__name__ if isinstance(doc, dict) else f"a JSON {type(doc).__name__}, not an object"
            raise ValueError(f"{path}: key {key!r} must be a list of image names, found {found}")
        unknown = [x for x in names if x not in index]
        if unknown:
            raise ValueError(
                f"{path}: split {key!r} names {len(unknown)} image(s) not in {attribute_set.dataset or 'the dataset'}, "
                f"e.g. {unknown[:3]}"
            )
        for x in names:
            if x in seen:
                raise ValueError(f"{path}: image {x!r} is in both {seen[x]!r} and {key!r}")
            seen[x] = key
        out[key] = np.sort(np.array([index[x] for x in names], dtype=np.int64))
    return out


def _cell_of_names(names: Sequence[str]) -> np.ndarray:
    """Names as MATLAB reads them in the release: an (N, 1) cell of 1-element strings (``x[i][0][0]``)."""
    cell = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        cell[i, 0] = np.array([name])
    return cell


def write_annotation(
    path: str | Path, attribute_set: AttributeSet, splits: dict[str, np.ndarray], extra: dict | None = None
) -> Path:
    """Write a PA-100K ``annotation.mat`` (atomically) holding ``attribute_set``'s images and labels as ``splits``.

    Official nesting (FORMATS.md): ``<split>_images_name`` an (N, 1) cell of 1-element strings,
    ``<split>_label`` N x A uint8 (2 where the label is unknown, as RAP writes it), ``attributes`` an (A, 1)
    cell unless ``extra`` (other keys to store, e.g. those of the file being rewritten) brings its own.
    """
    import scipy.io

    keys = _named_splits(splits)
    if keys != list(SPLIT_KEYS):
        raise ValueError(f"splits: expected exactly {', '.join(SPLIT_KEYS)}, found {', '.join(keys) or '(none)'}")
    labels = attribute_set.labels.astype(np.uint8)
    if attribute_set.mask is not None:
        labels = np.where(attribute_set.mask, labels, np.uint8(2))
    out = dict(extra or {})
    out.setdefault("attributes", _cell_of_names(attribute_set.schema.attributes))
    for key in SPLIT_KEYS:
        idx = np.sort(np.asarray(splits[key], dtype=np.int64))
        out[f"{key}_images_name"] = _cell_of_names(attribute_set.names[idx].tolist())
        out[f"{key}_label"] = labels[idx]
    path = Path(path)
    with atomic_path(path) as tmp:
        scipy.io.savemat(str(tmp), out, format="5", oned_as="column")
    return path


def write_splits_to_annotation(
    root: str | Path,
    attribute_set: AttributeSet,
    splits: dict[str, np.ndarray],
    backup: bool = True,
) -> Path:
    """Rewrite ``root/annotation.mat``'s ``*_images_name`` / ``*_label`` keys with ``splits`` (atomically).

    Other keys (``attributes``) are kept. The splits must hold exactly the images the file lists. With
    ``backup`` the file as first found is kept once as ``annotation.orig.mat`` (never overwritten).
    """
    import scipy.io

    root = Path(root)
    path = root / ANNOTATION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: annotation file not found (expected the PA-100K layout: data/, annotation.mat)")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several types for a bad file
        raise ValueError(f"{path}: cannot be read as a MATLAB file ({exc})") from exc
    name_keys = [f"{k}_images_name" for k in SPLIT_KEYS]
    absent = [k for k in name_keys if k not in mat]
    if absent:
        raise ValueError(f"{path}: missing keys {absent}; found {sorted(k for k in mat if not k.startswith('__'))}")
    listed = {str(np.ravel(x)[0]) for key in name_keys for x in np.ravel(mat[key])}
    keys = _named_splits(splits)
    if keys != list(SPLIT_KEYS):
        raise ValueError(f"splits: expected exactly {', '.join(SPLIT_KEYS)}, found {', '.join(keys) or '(none)'}")
    flat = [x for k in SPLIT_KEYS for x in attribute_set.names[np.asarray(splits[k], dtype=np.int64)].tolist()]
    if len(set(flat)) != len(flat):
        raise ValueError("splits: an image is in more than one of train/val/test")
    if set(flat) != listed:
        extra, lost = sorted(set(flat) - listed), sorted(listed - set(flat))
        raise ValueError(
            f"{path}: the new splits must hold exactly the {len(listed)} images the file lists; "
            f"{len(extra)} not in the file (e.g. {extra[:3]}), {len(lost)} left out (e.g. {lost[:3]})"
        )
    if "attributes" in mat:
        file_attrs = [str(np.ravel(x)[0]) for x in np.ravel(mat["attributes"])]
        if file_attrs != list(attribute_set.schema.attributes):
            raise ValueError(
                f"{path}: key 'attributes' lists {file_attrs[:5]}..., which differs from the "
                f"{attribute_set.schema.name!r} schema of the labels being written"
            )
    if backup and not (root / ANNOTATION_BACKUP).exists():
        shutil.copy2(path, root / ANNOTATION_BACKUP)
    kept = {k: v for k, v in mat.items() if not k.startswith("__") and not k.endswith(("_images_name", "_label"))}
    write_annotation(path, attribute_set, splits, extra=kept)
    log.debug("wrote %s (%s)", path, ", ".join(f"{k} {len(splits[k])}" for k in SPLIT_KEYS))
    return path
