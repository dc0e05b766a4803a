"""A straightforward ReID evaluator: one stable argsort per query, in numpy (slow, obviously correct).

It follows the same protocol as :func:`pa100k.metrics.reid_metrics` (same tie order, same seeded
single-gallery-shot draws) and exists to check it and to time it against.

A distance matrix is ranked as given. Features are ranked by their exact keys (the definition in
:mod:`pa100k.metrics._reid_keys`, from the same prepared features): each query's row of float64 keys
(one float64 matrix product) is argsorted, and every run of neighbours closer than twice the float64
error bound is re-sorted by keys computed exactly with :class:`fractions.Fraction`.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np

from pa100k.metrics._reid_keys import EXACT_KEYS, prepare_features
from pa100k.metrics.reid import PROTOCOLS, ReIDMetrics

_ROWS = 256  # queries whose float64 keys are held at a time


def exact_key_fraction(q_row: np.ndarray, g_row: np.ndarray, metric: str) -> Fraction:
    """The exact key of one pair of prepared feature rows, as a fraction (``-q·g``, plus ``½‖g‖²``)."""
    key = -sum((Fraction(a) * Fraction(b) for a, b in zip(q_row.tolist(), g_row.tolist())), Fraction(0))
    if EXACT_KEYS.get(metric).half_sq_norm:
        key += sum((Fraction(b) * Fraction(b) for b in g_row.tolist()), Fraction(0)) / 2
    return key


def _exact_orders(query: Any, gallery: Any, metric: str) -> Iterator[np.ndarray]:
    """Per query, the gallery indices in exact (key, index) order."""
    q, g = prepare_features(query, gallery, metric)
    q64, g64 = q.astype(np.float64), g.astype(np.float64)
    half = 0.5 * np.sum(g64 * g64, axis=1) if EXACT_KEYS.get(metric).half_sq_norm else np.zeros(len(g))
    d = q.shape[1]
    # |float64 key - exact key| <= 2 (d + 3) 2^-53 (‖q‖ max‖g‖ + max ½‖g‖²) (Higham's γ, doubled for safety)
    scale = np.sqrt(np.sum(q64 * q64, axis=1)) * np.sqrt(np.sum(g64 * g64, axis=1)).max() + half.max()
    err = 4.0 * (d + 3) * 2.0**-53 * scale * (1 + 2.0**-20)
    for s in range(0, len(q), _ROWS):
        keys = half[None, :] - q64[s : s + _ROWS] @ g64.T
        for r in range(keys.shape[0]):
            i = s + r
            order = np.argsort(keys[r], kind="stable")
            near = np.flatnonzero(np.diff(keys[r, order]) <= 2 * err[i])
            k = 0
            while k < len(near):  # runs of neighbours that the float64 keys cannot separate
                a = b = near[k]
                while k + 1 < len(near) and near[k + 1] == b + 1:
                    k, b = k + 1, near[k + 1]
                run = order[a : b + 2]
                exact = {int(j): exact_key_fraction(q[i], g[j], metric) for j in run}
                order[a : b + 2] = sorted(exact, key=lambda j: (exact[j], j))
                k += 1
            yield order


def reid_metrics_reference(
    query_features_or_distmat: Any,
    gallery_features: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    *,
    metric: str = "cosine",
    max_rank: int = 50,
    protocol: str = "market1501",
    repeats: int = 100,
    seed: int = 0,
) -> ReIDMetrics:
    """CMC, mAP and mINP by sorting every query's row (reference implementation of ``reid_metrics``).

    A distance matrix (``gallery_features`` None) is ranked as given; features by their exact keys, as
    ``reid_metrics(..., precision="exact")`` ranks them.
    """
    proto = PROTOCOLS.get(protocol)
    q_pids, g_pids = np.asarray(q_pids, dtype=np.int64), np.asarray(g_pids, dtype=np.int64)
    q_camids, g_camids = np.asarray(q_camids, dtype=np.int64), np.asarray(g_camids, dtype=np.int64)
    if gallery_features is None:
        dist = np.asarray(query_features_or_distmat)
        orders: Iterator[np.ndarray] = (np.argsort(row, kind="stable") for row in dist)
        metric_name = "precomputed"
    else:
        orders = _exact_orders(query_features_or_distmat, gallery_features, metric)
        metric_name = metric
    nq = len(q_pids)
    not_junk = g_pids != -1
    max_rank = min(max_rank, int(not_junk.sum()))
    groups = np.unique(g_pids[not_junk])  # single-gallery-shot identities, ascending
    aps, inps, curves, valid = [], [], [], np.zeros(nq, dtype=bool)
    for i, order in enumerate(orders):
        kept = order[not_junk[order] & ~((g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i]))]
        hit = (g_pids[kept] == q_pids[i]) & (q_pids[i] > 0)
        if not hit.any():
            continue
        valid[i] = True
        hit_rank = np.flatnonzero(hit)  # 0-based ranks of the true matches
        cum = np.cumsum(hit)
        aps.append(float(np.sum(cum[hit_rank] / (hit_rank + 1.0)) / hit.sum()))
        inps.append(float(hit.sum() / (hit_rank[-1] + 1.0)))
        curve = np.zeros(max_rank)
        if not proto.single_gallery_shot:
            curve[hit_rank[0]:] = 1.0
        else:
            u = np.random.default_rng([seed, i]).random((repeats, len(groups)))
            counts = np.zeros(max_rank)
            for r in range(repeats):
                chosen = set()
                for p, pid in enumerate(groups):
                    if pid == q_pids[i]:
                        members = np.sort(kept[g_pids[kept] == pid])
                    else:
                        members = np.flatnonzero(not_junk & (g_pids == pid))
                    chosen.add(int(members[min(int(u[r, p] * len(members)), len(members) - 1)]))
                sampled = [g for g in kept if int(g) in chosen]
                first = next(k for k, g in enumerate(sampled) if g_pids[g] == q_pids[i])
                counts[first:] += 1.0
            curve = counts / repeats
        curves.append(curve[:max_rank])
    if not valid.any():
        raise ValueError("q_pids: no query has a true match in the gallery")
    cmc_rows = np.array(curves)
    return ReIDMetrics(
        cmc=cmc_rows.mean(0),
        mAP=float(np.mean(aps)),
        mINP=float(np.mean(inps)),
        num_valid=int(valid.sum()),
        num_skipped=int(nq - valid.sum()),
        protocol=proto.name,
        metric=metric_name,
        repeats=repeats if proto.single_gallery_shot else 1,
        valid=valid,
        query_ap=np.array(aps),
        query_inp=np.array(inps),
        query_cmc=cmc_rows,
    )
