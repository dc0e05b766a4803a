"""A straightforward ReID evaluator: one stable argsort per query, in numpy (slow, obviously correct).

It follows the same protocol as :func:`pa100k.metrics.reid_metrics` (same tie order, same seeded
single-gallery-shot draws) and exists to check it and to time it against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pa100k.metrics.reid import PROTOCOLS, ReIDMetrics


def reid_metrics_reference(
    distmat: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    *,
    max_rank: int = 50,
    protocol: str = "market1501",
    repeats: int = 100,
    seed: int = 0,
) -> ReIDMetrics:
    """CMC, mAP and mINP from a distance matrix by sorting every query's row (reference implementation)."""
    proto = PROTOCOLS.get(protocol)
    dist = np.asarray(distmat)
    q_pids, g_pids = np.asarray(q_pids, dtype=np.int64), np.asarray(g_pids, dtype=np.int64)
    q_camids, g_camids = np.asarray(q_camids, dtype=np.int64), np.asarray(g_camids, dtype=np.int64)
    nq, _ng = dist.shape
    not_junk = g_pids != -1
    max_rank = min(max_rank, int(not_junk.sum()))
    groups = np.unique(g_pids[not_junk])  # single-gallery-shot identities, ascending
    aps, inps, curves, valid = [], [], [], np.zeros(nq, dtype=bool)
    for i in range(nq):
        order = np.argsort(dist[i], kind="stable")
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
        metric="precomputed",
        repeats=repeats if proto.single_gallery_shot else 1,
        valid=valid,
        query_ap=np.array(aps),
        query_inp=np.array(inps),
        query_cmc=cmc_rows,
    )
