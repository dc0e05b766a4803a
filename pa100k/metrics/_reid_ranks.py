"""Rank counting for :func:`pa100k.metrics.reid_metrics`: every true match's rank, without sorting the gallery.

For one chunk of queries, with keys at three precisions (:class:`~pa100k.metrics._reid_keys.ChunkKeys`):

1. the true matches of each query (its identity, other cameras) get refined keys and are put in exact
   (key, gallery index) order;
2. around each match's key a window of ``±(e1 + e2)`` is laid out in float32 (rounded outwards). Gallery
   items whose approximate key lies below the window of match k certainly come before it, items above it
   certainly after. Only items up to the last match's window can matter; they are found with one
   comparison over the chunk, packed as int64 ``(row, float32 order, gallery index)`` and sorted (when they
   are a minority; otherwise each row's keys are sorted in place), and each window's bounds are located in
   that sorted list with ``searchsorted``;
3. items inside a window (near-ties) are decided with refined keys, and exactly when still within
   ``2·e2``; exact ties go by gallery index.

The rank of match k (0-based, matches in order) is k plus the number of other kept items before it. Items of
the query's own identity (its true matches and same-camera images, which the protocol removes) are never
counted as other items.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from pa100k.metrics._reid_keys import _SAFETY, ChunkKeys

_SPARSE_FRACTION = 0.25  # sort only the selected items when they are at most this share of the chunk
_REFINE_PER_ROW = 256  # more near-ties per query than this (or 1/32 of the gallery): refine the whole chunk


# ------------------------------------------------------------------------------------------------ layout


@dataclass
class Gallery:
    """Gallery identities laid out for gathering: ``members[u, :sizes[u]]`` are the indices of identity u."""

    pids: np.ndarray  # (G,) person id of each kept gallery image
    cams: np.ndarray  # (G,) camera of each kept gallery image
    upids: np.ndarray  # (U,) sorted unique ids
    members: np.ndarray  # (U, Smax) int64, ascending gallery index, padded with 0
    sizes: np.ndarray  # (U,) int64


def gallery_layout(g_pids: np.ndarray, g_cams: np.ndarray, positive_only: bool) -> Gallery:
    """Group the kept gallery by identity (only pid > 0 when ``positive_only``)."""
    sel = g_pids > 0 if positive_only else np.ones(len(g_pids), dtype=bool)
    idx = np.flatnonzero(sel)
    order = idx[np.argsort(g_pids[idx], kind="stable")]  # grouped by id, ascending gallery index within
    upids, starts, sizes = np.unique(g_pids[order], return_index=True, return_counts=True)
    smax = int(sizes.max()) if len(sizes) else 1
    members = np.zeros((len(upids), smax), dtype=np.int64)
    if len(order):
        col = np.arange(len(order)) - np.repeat(starts, sizes)
        members[np.repeat(np.arange(len(upids)), sizes), col] = order
    return Gallery(pids=g_pids, cams=g_cams, upids=upids, members=members, sizes=sizes.astype(np.int64))


def candidates(layout: Gallery, q_group: np.ndarray, q_cams: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cand`` (B, Smax) gallery indices of each query's identity, ``in_group`` (valid entries) and ``match``
    (those in another camera: the true matches). ``q_group`` is the identity's row in ``layout`` or -1."""
    has = q_group >= 0
    grp = np.maximum(q_group, 0)
    cand = layout.members[grp]
    in_group = (np.arange(cand.shape[1])[None, :] < layout.sizes[grp][:, None]) & has[:, None]
    match = in_group & (layout.cams[cand] != q_cams[:, None])
    return cand, match, in_group


# -------------------------------------------------------------------------------------------- float bits


def _ord32(v: np.ndarray) -> np.ndarray:
    """int64 in [0, 2**32) ordered as the float32 ``v`` (``-0.0`` folded onto ``+0.0``, as comparison does):
    negative numbers get their magnitude bits flipped, then the sign bit is flipped."""
    bits = (v + np.float32(0.0)).view(np.int32)
    flip = bits >> 31
    flip &= np.int32(0x7FFFFFFF)
    flip ^= np.int32(-(1 << 31))
    bits ^= flip
    return bits.view(np.uint32).astype(np.int64)


def _down32(x: np.ndarray) -> np.ndarray:
    """Largest float32 ≤ x (x float64)."""
    y = x.astype(np.float32)
    return np.where(y.astype(np.float64) > x, np.nextafter(y, np.float32(-np.inf)), y)


def _up32(x: np.ndarray) -> np.ndarray:
    """Smallest float32 ≥ x (x float64)."""
    y = x.astype(np.float32)
    return np.where(y.astype(np.float64) < x, np.nextafter(y, np.float32(np.inf)), y)


def _window(t: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 (low, high) with low ≤ t - w and high ≥ t + w (``w`` ≥ 0 broadcast against ``t``)."""
    lo, hi = t - w, t + w
    wide = np.broadcast_to(w > 0, np.shape(t))
    lo = np.where(wide, np.nextafter(lo, -np.inf), lo)  # the subtraction's own rounding
    hi = np.where(wide, np.nextafter(hi, np.inf), hi)
    return _down32(lo), _up32(hi)


def before(
    keys: ChunkKeys, ref: np.ndarray, tk: np.ndarray, rows: np.ndarray, cols: np.ndarray, tcols: np.ndarray
) -> np.ndarray:
    """Whether items (``rows``, ``cols``, refined keys ``ref``) come before the matches (``tcols``, refined
    keys ``tk``) in exact (key, gallery index) order."""
    tol = 2 * keys.e2[rows] * _SAFETY
    diff = ref - tk
    out = diff < -tol
    close = np.abs(diff) <= tol
    if close.any():
        equal = close & (tol == 0)  # given numbers: equal is a tie
        out[equal] = cols[equal] < tcols[equal]
        for p in np.flatnonzero(close & (tol > 0)).tolist():
            sign = keys.compare(int(rows[p]), int(cols[p]), int(tcols[p]))
            out[p] = sign < 0 or (sign == 0 and cols[p] < tcols[p])
    return out


# ------------------------------------------------------------------------------------------ match ranks


def _refine_whole_chunk(near_ties: int, rows: int, num_gallery: int) -> bool:
    """Whether refining every key of the chunk (one float64 product) is cheaper than refining its near-ties
    one by one (a gathered gallery row each)."""
    return near_ties > rows * max(_REFINE_PER_ROW, num_gallery // 32)


@dataclass
class MatchRanks:
    """0-based ``ranks`` (B, Smax) of the true matches in order (valid where ``k < n``), their count ``n``,
    ``t_slot`` (B, Smax), the refined key of each candidate slot that is a match (+inf elsewhere), and the
    ``keys`` used (the chunk's, or their fully refined version)."""

    ranks: np.ndarray
    n: np.ndarray
    t_slot: np.ndarray
    keys: ChunkKeys


def _order_near_ties(t: np.ndarray, tidx: np.ndarray, n: np.ndarray, keys: ChunkKeys) -> None:
    """Put runs of matches whose refined keys are within ``2·e2`` in exact order (in place; rare)."""
    tol = 2 * keys.e2 * _SAFETY
    valid = np.arange(t.shape[1] - 1)[None, :] < (n - 1)[:, None]
    with np.errstate(invalid="ignore"):
        close = (np.diff(t, axis=1) <= tol[:, None]) & valid & (tol[:, None] > 0)
    for r in np.flatnonzero(close.any(axis=1)).tolist():
        cmp = functools.cmp_to_key(lambda a, b, r=r: keys.compare(r, a, b) or (a > b) - (a < b))
        k = 0
        while k < n[r] - 1:
            if not close[r, k]:
                k += 1
                continue
            end = k + 1
            while end < n[r] - 1 and close[r, end]:
                end += 1
            run = slice(k, end + 1)
            by_col = dict(zip(tidx[r, run].tolist(), t[r, run].tolist()))
            cols = sorted(by_col, key=cmp)
            tidx[r, run] = cols
            t[r, run] = [by_col[c] for c in cols]
            k = end + 1


def match_ranks(
    keys: ChunkKeys, cand: np.ndarray, match: np.ndarray, in_group: np.ndarray, g_pids: np.ndarray,
    q_pids: np.ndarray,
) -> MatchRanks:
    """Ranks of every true match of every query in the chunk (see the module notes)."""
    approx = keys.approx
    bq, ng = approx.shape
    smax = cand.shape[1]
    n = match.sum(1)
    # 1. refined keys of the matches, in (key, gallery index) order (cand ascends, the sort is stable)
    if keys.candidate_keys is not None:
        t_slot = np.where(match, keys.candidate_keys, np.inf)
    else:
        mr, ms = np.nonzero(match)
        t_slot = np.full(cand.shape, np.inf)
        t_slot[mr, ms] = keys.refine(mr, cand[mr, ms])
    order = np.argsort(t_slot, axis=1, kind="stable")
    t = np.take_along_axis(t_slot, order, 1)
    tidx = np.take_along_axis(cand, order, 1)
    _order_near_ties(t, tidx, n, keys)
    # 2. windows: envelopes make them monotone where the exact order swapped near-equal refined keys
    valid = np.arange(smax)[None, :] < n[:, None]
    upper = np.maximum.accumulate(np.where(valid, t, -np.inf), axis=1)
    lower = np.minimum.accumulate(np.where(valid, t, np.inf)[:, ::-1], axis=1)[:, ::-1]
    w = (keys.e1 + keys.e2)[:, None]
    lo32, _ = _window(np.where(valid, lower, 0.0), w)
    _, hi32 = _window(np.where(valid, upper, 0.0), w)
    last = np.where(n > 0, hi32[np.arange(bq), np.maximum(n - 1, 0)], np.float32(-np.inf))
    sel = approx <= last[:, None]  # items after the last match's window change nothing
    col_bits = max(1, (ng - 1).bit_length())
    row_shift = 32 + col_bits
    col_mask = (1 << col_bits) - 1
    if np.count_nonzero(sel) <= _SPARSE_FRACTION * sel.size:
        flat = np.flatnonzero(sel)
        rows = flat // ng
        cols = flat - rows * ng
        other = g_pids[cols] != q_pids[rows]
        flat, rows, cols = flat[other], rows[other], cols[other]
        skeys = np.sort((rows << row_shift) | (_ord32(approx.reshape(-1)[flat]) << col_bits) | cols)
    else:  # most items matter: sort each row's keys (the query's own identity last, never counted)
        k2 = _ord32(approx)
        k2 <<= col_bits
        k2 |= np.arange(ng)
        gr, gs = np.nonzero(in_group)
        k2[gr, cand[gr, gs]] = ((1 << 32) - 1) << col_bits | col_mask
        k2.sort(axis=1)
        k2 |= (np.arange(bq, dtype=np.int64) << row_shift)[:, None]
        skeys = k2.reshape(-1)
    # certain counts from the window bounds' places in the sorted items
    vr, vk = np.nonzero(valid)
    base = vr.astype(np.int64) << row_shift
    pos_lo = np.searchsorted(skeys, base | (_ord32(lo32[vr, vk]) << col_bits), side="left")
    pos_hi = np.searchsorted(skeys, base | (_ord32(hi32[vr, vk]) << col_bits) | col_mask, side="right")
    count = pos_lo - np.searchsorted(skeys, base, side="left")
    # 3. items inside a window
    width = pos_hi - pos_lo
    total = int(width.sum())
    if keys.refined is not None and _refine_whole_chunk(total, bq, ng):
        return match_ranks(keys.refined(), cand, match, in_group, g_pids, q_pids)
    if total:
        entry = np.repeat(np.arange(len(vr)), width)
        pos = pos_lo[entry] + np.arange(total) - np.repeat(np.cumsum(width) - width, width)
        item_rows, item_cols = vr[entry], skeys[pos] & col_mask
        uniq, inv = np.unique(item_rows * ng + item_cols, return_inverse=True)
        ref = keys.refine(uniq // ng, uniq % ng)[inv]
        is_before = before(keys, ref, t[vr, vk][entry], item_rows, item_cols, tidx[vr, vk][entry])
        count += np.bincount(entry, weights=is_before, minlength=len(vr)).astype(np.int64)
    ranks = np.full((bq, smax), -1, dtype=np.int64)
    ranks[vr, vk] = vk + count
    return MatchRanks(ranks=ranks, n=n, t_slot=t_slot, keys=keys)


# ------------------------------------------------------------------------------- single-gallery-shot CMC


def single_shot_ranks(
    keys: ChunkKeys, start: int, q_pids: np.ndarray, all_groups: Gallery, cand: np.ndarray, match: np.ndarray,
    found: MatchRanks, repeats: int, seed: int,
) -> np.ndarray:
    """(B, repeats) 0-based rank of the drawn true match among one drawn image per gallery identity.

    Draw r of query i (0-based position in the query list) uses ``numpy.random.default_rng([seed, i])``:
    ``u = rng.random((repeats, U))`` over the U gallery identities (ascending id, junk excluded); identity
    u's image is its ``min(floor(u * size), size - 1)``-th kept image in gallery order.
    """
    bq = len(q_pids)
    n = found.n
    u_count = len(all_groups.upids)
    draws = np.stack([np.random.default_rng([seed, start + i]).random((repeats, u_count)) for i in range(bq)])
    pick = np.minimum(np.floor(draws * all_groups.sizes).astype(np.int64), all_groups.sizes - 1)  # (B, R, U)
    g_idx = all_groups.members[np.arange(u_count)[None, None, :], pick]  # gallery index drawn per identity
    own = np.minimum(np.searchsorted(all_groups.upids, q_pids), max(u_count - 1, 0))
    # the query's own identity: draw among its kept (other-camera) images, in gallery order
    u_own = np.take_along_axis(draws, np.broadcast_to(own[:, None, None], (bq, repeats, 1)), 2)[..., 0]
    k_own = np.minimum(np.floor(u_own * n[:, None]).astype(np.int64), np.maximum(n - 1, 0)[:, None])
    match_slots = np.argsort(~match, axis=1, kind="stable")  # slots of the matches first, ascending
    slot = np.take_along_axis(match_slots, k_own, 1)
    own_idx = np.take_along_axis(cand, slot, 1)  # (B, R)
    valid = n > 0
    t_own = np.where(valid[:, None], np.take_along_axis(found.t_slot, slot, 1), 0.0)
    lo32, hi32 = _window(t_own, (keys.e1 + keys.e2)[:, None])
    v = np.take_along_axis(keys.approx, g_idx.reshape(bq, -1), 1).reshape(g_idx.shape)
    not_own = (np.arange(u_count)[None, None, :] != own[:, None, None]) & valid[:, None, None]
    is_before = (v < lo32[..., None]) & not_own
    amb = (v >= lo32[..., None]) & (v <= hi32[..., None]) & not_own
    if amb.any():
        bi, ri, ui = np.nonzero(amb)
        cols = g_idx[bi, ri, ui]
        uniq, inv = np.unique(bi * keys.approx.shape[1] + cols, return_inverse=True)
        ref = keys.refine(uniq // keys.approx.shape[1], uniq % keys.approx.shape[1])[inv]
        is_before[bi, ri, ui] = before(keys, ref, t_own[bi, ri], bi, cols, own_idx[bi, ri])
    return is_before.sum(-1)
