"""Person re-identification: CMC, mAP and mINP without sorting the gallery.

Protocol (Market-1501, Zheng et al. 2015; torchreid's ``evaluate_rank``; fast-reid's mINP): for each
query, gallery images of the same identity seen by the same camera are removed, junk images (pid -1) are
never scored, distractors (pid 0) are negatives, and a query with no true match left is skipped (and
counted). Ties in distance are broken by gallery index, as a stable sort would.

What is ranked: for features, by default (``precision="exact"``) the exact real distance of the float32
features, so that results do not depend on BLAS, threads, chunking or device
(:mod:`pa100k.metrics._reid_keys` states the keys and the error bounds that make it cheap); with
``precision="float32"`` the float32 distances of :func:`pairwise_distance`; a distance matrix as given.

How it is fast: float32 products in chunks of queries (numpy's BLAS on the CPU, torch on a GPU) give
every distance within a proven bound; the rank of a true match is the number of kept gallery items before
it, counted rather than sorted (:mod:`pa100k.metrics._reid_ranks`): items beyond the last true match change
nothing, the others are placed between the query's few true matches, and only the rare items within the
error bound of a true match are recomputed in float64 (or exactly). CMC needs the rank of the first true
match, AP the ranks of all (from the cumulative hit count k at each), mINP the rank of the last.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pa100k.metrics._reid_keys import EXACT_KEYS, ChunkKeys, ExactScorer, given_chunk
from pa100k.metrics._reid_ranks import Gallery, candidates, gallery_layout, match_ranks, single_shot_ranks
from pa100k.metrics.validation import check_positive_int, to_numpy
from pa100k.registry import Registry

log = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 1 << 23  # distances held per chunk of queries (32 MiB in float32; two chunks in flight)
_SINGLE_SHOT_ELEMENTS = 1 << 21  # (query, repeat, identity) draws held per chunk in single-gallery-shot


# --------------------------------------------------------------------------------------------- registries


@dataclass(frozen=True)
class ReIDProtocol:
    """An evaluation protocol: how the gallery is sampled for CMC (AP and INP always use the full ranking)."""

    name: str
    single_gallery_shot: bool
    description: str = ""
    reference: str = ""


PROTOCOLS: Registry[ReIDProtocol] = Registry("ReID protocol")
for _p in (
    ReIDProtocol(
        "market1501",
        single_gallery_shot=False,
        description="every kept gallery image is ranked; CMC, AP and INP from one ranking per query",
        reference=(
            "Zheng et al., 'Scalable Person Re-identification: A Benchmark', ICCV 2015; torchreid eval_market1501"
        ),
    ),
    ReIDProtocol(
        "cuhk03_single_shot",
        single_gallery_shot=True,
        description=(
            "CMC with one randomly drawn kept gallery image per gallery identity, averaged over `repeats` "
            "seeded draws; AP and INP from the full ranking (as torchreid's eval_cuhk03)"
        ),
        reference="Li et al., 'DeepReID', CVPR 2014; torchreid eval_cuhk03 (10 unseeded repeats there)",
    ),
    ReIDProtocol(
        "viper",
        single_gallery_shot=True,
        description=(
            "single-gallery-shot CMC as for CUHK03; with VIPeR's one image per identity and camera the "
            "draw is trivial and the CMC exact"
        ),
        reference="Gray et al., 'Evaluating Appearance Models for Recognition, Reacquisition, and Tracking', PETS 2007",
    ),
):
    PROTOCOLS.add(_p.name, _p)


def list_protocols() -> list[str]:
    """Names of the ReID protocols."""
    return PROTOCOLS.names()


DistanceFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
DISTANCES: Registry[DistanceFn] = Registry("ReID distance metric")


def _inner_products(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``q @ g.T``. On the CPU through numpy's BLAS (OpenBLAS in the standard wheels), which runs float32
    products about twice as fast as torch's MKL build on AMD processors; its threads follow
    ``OPENBLAS_NUM_THREADS`` (or ``threadpoolctl``). On a GPU with torch."""
    if q.device.type == "cpu":
        return torch.from_numpy(q.numpy() @ g.numpy().T)
    return q @ g.T


@DISTANCES.register("cosine")
def _cosine(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """1 - cos(q, g); ``q`` and ``g`` are already L2-normalised by :func:`_prepare_features`."""
    return _inner_products(q, g).neg_().add_(1.0)


@DISTANCES.register("sqeuclidean")
def _sqeuclidean(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """|q|² + |g|² - 2 q·g (torchreid's ``euclidean``), not clamped."""
    qq = (q * q).sum(1, keepdim=True)
    gg = (g * g).sum(1).unsqueeze(0)
    return _inner_products(q, g).mul_(-2.0).add_(qq).add_(gg)


@DISTANCES.register("euclidean")
def _euclidean(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """sqrt(max(|q|² + |g|² - 2 q·g, 0))."""
    return _sqeuclidean(q, g).clamp_(min=0).sqrt_()


def list_distance_metrics() -> list[str]:
    """Names of the distance metrics."""
    return DISTANCES.names()


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class ReIDMetrics:
    """CMC curve (``cmc[k-1]`` = rank-k accuracy), mAP and mINP as fractions, and the query counts.

    ``valid`` marks the queries that had a true match; ``query_ap``, ``query_inp`` and ``query_cmc`` hold
    the per-query values of those queries (for bootstrapping over identities).
    """

    cmc: np.ndarray
    mAP: float
    mINP: float
    num_valid: int
    num_skipped: int
    protocol: str = "market1501"
    metric: str = "cosine"
    repeats: int = 1
    valid: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    query_ap: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    query_inp: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    query_cmc: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def rank(self, k: int) -> float:
        """Rank-k accuracy (k is 1-based)."""
        if not 1 <= k <= len(self.cmc):
            raise ValueError(f"k: expected 1..{len(self.cmc)}, found {k}")
        return float(self.cmc[k - 1])

    def to_dict(self) -> dict:
        """JSON-serialisable summary (rank-1/5/10/20 where the CMC reaches them, the full CMC, mAP, mINP)."""
        d: dict[str, Any] = {"protocol": self.protocol, "metric": self.metric}
        for k in (1, 5, 10, 20):
            if k <= len(self.cmc):
                d[f"rank{k}"] = float(self.cmc[k - 1])
        d.update(
            cmc=[float(x) for x in self.cmc],
            mAP=float(self.mAP),
            mINP=float(self.mINP),
            num_valid=int(self.num_valid),
            num_skipped=int(self.num_skipped),
        )
        if self.protocol in PROTOCOLS and PROTOCOLS.get(self.protocol).single_gallery_shot:
            d["repeats"] = int(self.repeats)
        return d


# ------------------------------------------------------------------------------------------------ inputs


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    arr = to_numpy(x, name)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name}: expected a numeric array, found dtype {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr))


def _float_tensor(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.is_complex():
        raise ValueError(f"{name}: expected real values, found dtype {x.dtype}")
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()  # float16/bfloat16/ints → float32, exact for halves
    lo, hi = torch.aminmax(x) if x.numel() else (x.new_zeros(()), x.new_zeros(()))
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):  # NaN propagates through min/max
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ValueError(f"{name}: expected finite values, found {n_nan} NaN and {n_inf} infinite values")
    return x


def _ids(x: Any, name: str, length: int) -> np.ndarray:
    arr = to_numpy(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of integer ids, found shape {arr.shape}")
    if arr.shape[0] != length:
        raise ValueError(f"{name}: expected {length} ids (one per row of the matching matrix), found {arr.shape[0]}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and (arr == np.round(arr)).all():
            return arr.astype(np.int64)
        raise ValueError(f"{name}: expected integer ids, found dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _validated(
    query_features_or_distmat: Any, gallery_features: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any,
    metric: str,
) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    first = _as_tensor(query_features_or_distmat, "query_features" if gallery_features is not None else "distmat")
    if gallery_features is None:
        if first.ndim != 2:
            raise ValueError(f"distmat: expected a 2-D (n_query, n_gallery) matrix, found shape {tuple(first.shape)}")
        if first.shape[0] == 0 or first.shape[1] == 0:
            raise ValueError(f"distmat: expected a non-empty matrix, found shape {tuple(first.shape)}")
        first = _float_tensor(first, "distmat")
        gal = None
        nq, ng = first.shape
    else:
        if metric not in DISTANCES:
            _unknown_metric(metric)
        gal = _as_tensor(gallery_features, "gallery_features")
        for t, name in ((first, "query_features"), (gal, "gallery_features")):
            if t.ndim != 2:
                raise ValueError(f"{name}: expected a 2-D (n, dim) array, found shape {tuple(t.shape)}")
            if t.shape[0] == 0 or t.shape[1] == 0:
                raise ValueError(f"{name}: expected a non-empty array, found shape {tuple(t.shape)}")
        if first.shape[1] != gal.shape[1]:
            raise ValueError(
                f"gallery_features: expected feature dimension {first.shape[1]} (as query_features), "
                f"found {gal.shape[1]}"
            )
        if first.device != gal.device:
            raise ValueError(f"gallery_features: on device {gal.device}, query_features on {first.device}")
        first = _float_tensor(first, "query_features")
        gal = _float_tensor(gal, "gallery_features")
        if first.dtype != gal.dtype:
            first, gal = first.double(), gal.double()
        nq, ng = first.shape[0], gal.shape[0]
    return (
        first, gal, _ids(q_pids, "q_pids", nq), _ids(g_pids, "g_pids", ng), _ids(q_camids, "q_camids", nq),
        _ids(g_camids, "g_camids", ng),
    )


def _no_valid_query(num_queries: int) -> None:
    raise ValueError(
        f"q_pids: none of the {num_queries} queries has a true match in the gallery (same identity, other "
        "camera, pid > 0); check that query and gallery ids come from the same split"
    )


def _unknown_metric(metric: str) -> None:
    raise ValueError(f"metric: unknown distance {metric!r}; valid names: {', '.join(DISTANCES.names())}")


def _prepare_features(q: torch.Tensor, g: torch.Tensor, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    if metric == "cosine":
        return torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(g, dim=1)
    return q, g


def _chunk_rows(num_queries: int, num_gallery: int, limit: int = _CHUNK_ELEMENTS) -> int:
    """Queries per chunk: at most ``limit`` distances, in chunks of equal size."""
    rows = max(1, limit // max(1, num_gallery))
    return -(-num_queries // -(-num_queries // rows))


def _distance_chunks(
    first: torch.Tensor, gal: torch.Tensor | None, metric: str, keep_cols: torch.Tensor | None, rows: int
) -> Iterator[tuple[int, torch.Tensor]]:
    """(start, distances of queries start..start+rows) over kept gallery columns."""
    if gal is None:
        for s in range(0, first.shape[0], rows):
            d = first[s : s + rows]
            yield s, (d if keep_cols is None else d.index_select(1, keep_cols))
        return
    fn = DISTANCES.get(metric)
    q, g = _prepare_features(first, gal if keep_cols is None else gal.index_select(0, keep_cols), metric)
    for s in range(0, q.shape[0], rows):
        yield s, fn(q[s : s + rows], g)


def pairwise_distance(
    query_features: Any, gallery_features: Any, *, metric: str = "cosine", chunk_size: int | None = None
) -> torch.Tensor:
    """The (n_query, n_gallery) float32 (or float64) distances, computed in chunks exactly as
    ``reid_metrics(..., precision="float32")`` ranks them."""
    if metric not in DISTANCES:
        _unknown_metric(metric)
    q = _float_tensor(_as_tensor(query_features, "query_features"), "query_features")
    g = _float_tensor(_as_tensor(gallery_features, "gallery_features"), "gallery_features")
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(
            f"gallery_features: expected 2-D features of equal dimension, found {tuple(q.shape)} and {tuple(g.shape)}"
        )
    if q.dtype != g.dtype:
        q, g = q.double(), g.double()
    rows = chunk_size or _chunk_rows(q.shape[0], g.shape[0])
    out = torch.empty((q.shape[0], g.shape[0]), dtype=q.dtype, device=q.device)
    for s, d in _distance_chunks(q, g, metric, None, rows):
        out[s : s + d.shape[0]] = d
    return out

# ------------------------------------------------------------------------------------------ chunk sources

ChunkSource = Callable[[int, int], ChunkKeys]
PRECISIONS: Registry[Callable[..., ChunkSource]] = Registry("ReID ranking precision")


@PRECISIONS.register("exact")
def _exact_source(
    first: torch.Tensor, gal: torch.Tensor, metric: str, keep_cols: torch.Tensor | None, layout: Gallery,
    q_group: np.ndarray,
) -> ChunkSource:
    """Exact keys of the prepared features (float32 products with a proven bound, refined where needed)."""
    if metric not in EXACT_KEYS:
        raise ValueError(
            f"metric: {metric!r} has no exact ranking key (exact keys: {', '.join(EXACT_KEYS.names())}); "
            "pass precision='float32' to rank its float32 distances"
        )
    g = gal if keep_cols is None else gal.index_select(0, keep_cols)
    scorer = ExactScorer(first, g, metric, first.device)
    scorer.set_candidates(layout.members, layout.sizes, q_group)
    return scorer.chunk


@PRECISIONS.register("float32")
def _float32_source(
    first: torch.Tensor, gal: torch.Tensor, metric: str, keep_cols: torch.Tensor | None, layout: Gallery,
    q_group: np.ndarray,
) -> ChunkSource:
    """The float32 distances of :func:`pairwise_distance` (float64 for float64 features), ranked as they are."""
    fn = DISTANCES.get(metric)
    q, g = _prepare_features(first, gal if keep_cols is None else gal.index_select(0, keep_cols), metric)
    return lambda s, e: given_chunk(fn(q[s:e], g).cpu().numpy())


def _distmat_source(first: torch.Tensor, keep_cols: torch.Tensor | None) -> ChunkSource:
    def chunk(s: int, e: int) -> ChunkKeys:
        d = first[s:e]
        return given_chunk((d if keep_cols is None else d.index_select(1, keep_cols)).cpu().numpy())

    return chunk


def _prefetched(source: ChunkSource, num_queries: int, rows: int) -> Iterator[tuple[int, int, ChunkKeys]]:
    """``(start, end, keys)`` per chunk; the next chunk's product runs in a worker thread (BLAS releases the
    GIL) while the caller ranks the current one, so the single-threaded counting overlaps the product."""
    bounds = [(s, min(s + rows, num_queries)) for s in range(0, num_queries, rows)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(source, *bounds[0])
        for k, (s, e) in enumerate(bounds):
            keys = pending.result()
            if k + 1 < len(bounds):
                pending = pool.submit(source, *bounds[k + 1])
            yield s, e, keys


def list_precisions() -> list[str]:
    """Names of the ranking precisions for features."""
    return PRECISIONS.names()


# ------------------------------------------------------------------------------------------------ public


def reid_metrics(
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
    chunk_size: int | None = None,
    precision: str = "exact",
) -> ReIDMetrics:
    """CMC, mAP and mINP of a ReID ranking (Market-1501 protocol; single-gallery-shot for CUHK03/VIPeR).

    Parameters
    ----------
    query_features_or_distmat : array or tensor
        (n_query, dim) query features, or an (n_query, n_gallery) distance matrix when
        ``gallery_features`` is None. For CUDA tensors the products run on their GPU.
    gallery_features : array or tensor or None
        (n_gallery, dim) gallery features.
    q_pids, g_pids, q_camids, g_camids : 1-D integer arrays
        Person and camera ids. Gallery pid -1 is junk (never scored), pid 0 a distractor (always a
        negative); a query with pid <= 0 has no true match and is skipped.
    metric : {"cosine", "euclidean", "sqeuclidean"}, default "cosine"
        Distance between features (ignored for a distance matrix).
    max_rank : int, default 50
        Length of the CMC curve (lowered to the number of non-junk gallery images, with a log message).
    protocol : {"market1501", "cuhk03_single_shot", "viper"}, default "market1501"
        ``market1501`` ranks every kept gallery image; the single-gallery-shot protocols draw one kept
        image per gallery identity for the CMC, ``repeats`` times with ``seed``, and average (as
        torchreid's ``eval_cuhk03``, whose AP also uses the full ranking). Distractors (pid 0) form one
        identity there, as in torchreid.
    repeats : int, default 100
        Draws for single-gallery-shot protocols (the HP-net paper repeats 100 times).
    seed : int, default 0
        Seed of those draws: query i's draws come from ``numpy.random.default_rng([seed, i])``, so results
        do not depend on ``chunk_size`` or device.
    chunk_size : int, optional
        Queries per chunk (default: equal chunks of at most about 8M distances).
    precision : {"exact", "float32"}, default "exact"
        How features are ranked (ignored for a distance matrix, whose numbers are ranked as given).
        ``exact``: by the exact real distance of the float32 features (cosine: of the rows scaled by
        their inverse L2 norm, rounded to float32), whatever the BLAS, thread count, chunk size or device;
        float32 products do the work, with a proven error bound, and the few near-ties are settled in
        float64 and, if still within its bound, in exact integer arithmetic (``pa100k.metrics._reid_keys``
        states the keys and bounds; ``reid_metrics_reference`` computes the same ranking by sorting).
        ``float32``: by the float32 distances of :func:`pairwise_distance`, rounding ties and all.

    Returns
    -------
    ReIDMetrics

    Notes
    -----
    For a valid query with n true matches at 0-based ranks r_1 < ... < r_n among the kept gallery
    images: CMC@k = [r_1 < k]; AP = (1/n) Σ_k k / (r_k + 1); INP = n / (r_n + 1) (Ye et al., "Deep
    Learning for Person Re-identification: A Survey and Outlook", TPAMI 2021). Each is averaged over
    valid queries. Equal distances are ordered by gallery index.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[0.1, 0.2, 0.3, 0.4]])
    >>> m = reid_metrics(d, None, [1], [2, 1, 0, 1], [0], [1, 1, 1, 1], max_rank=4)
    >>> m.cmc.tolist(), round(m.mAP, 4), round(m.mINP, 4)
    ([0.0, 1.0, 1.0, 1.0], 0.5, 0.5)
    """
    proto = PROTOCOLS.get(protocol) if protocol in PROTOCOLS else None
    if proto is None:
        raise ValueError(f"protocol: unknown ReID protocol {protocol!r}; valid names: {', '.join(PROTOCOLS.names())}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision: unknown value {precision!r}; valid names: {', '.join(PRECISIONS.names())}")
    max_rank = check_positive_int(max_rank, "max_rank")
    repeats = check_positive_int(repeats, "repeats")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, found {seed!r}")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    first, gal, qp, gp, qc, gc = _validated(
        query_features_or_distmat, gallery_features, q_pids, g_pids, q_camids, g_camids, metric
    )
    keep = gp != -1
    if not keep.any():
        raise ValueError("g_pids: every gallery image is junk (pid -1); nothing can be ranked")
    keep_cols = None if keep.all() else torch.from_numpy(np.flatnonzero(keep)).to(first.device)
    gp_k, gc_k = gp[keep], gc[keep]
    num_gallery = len(gp_k)
    if max_rank > num_gallery:
        log.info("max_rank %d lowered to the %d non-junk gallery images", max_rank, num_gallery)
        max_rank = num_gallery

    layout = gallery_layout(gp_k, gc_k, positive_only=True)
    q_group = np.searchsorted(layout.upids, qp)
    found = (qp > 0) & (q_group < len(layout.upids))
    found[found] = layout.upids[q_group[found]] == qp[found]
    if not found.any():
        _no_valid_query(len(qp))
    q_group = np.where(found, q_group, -1)
    all_groups = gallery_layout(gp_k, gc_k, positive_only=False) if proto.single_gallery_shot else None
    if gal is None:
        source = _distmat_source(first, keep_cols)
    else:
        source = PRECISIONS.get(precision)(first, gal, metric, keep_cols, layout, q_group)

    nq = len(qp)
    rows = min(chunk_size or _chunk_rows(nq, num_gallery), 1 << (31 - max(1, (num_gallery - 1).bit_length())))
    if proto.single_gallery_shot:
        rows = min(rows, max(1, _SINGLE_SHOT_ELEMENTS // (repeats * len(all_groups.upids))))
    ap = np.zeros(nq)
    inp = np.zeros(nq)
    hits = np.zeros((nq, max_rank))
    n_all = np.zeros(nq, dtype=np.int64)
    for s, e, keys in _prefetched(source, nq, rows):
        cand, match, in_group = candidates(layout, q_group[s:e], qc[s:e])
        found_c = match_ranks(keys, cand, match, in_group, gp_k, qp[s:e])
        ranks, n = found_c.ranks, found_c.n
        k = np.arange(ranks.shape[1])[None, :]
        ok = k < n[:, None]
        r1 = np.where(ok, ranks, 0) + 1.0  # 1-based ranks (1 where there is no match)
        ap[s:e] = np.where(ok, (k + 1) / r1, 0.0).sum(1) / np.maximum(n, 1)
        inp[s:e] = n / np.take_along_axis(r1, np.maximum(n - 1, 0)[:, None], 1)[:, 0]
        n_all[s:e] = n
        if proto.single_gallery_shot:
            ss = single_shot_ranks(found_c.keys, s, qp[s:e], all_groups, cand, match, found_c, repeats, seed)
            counts = np.zeros((e - s, max_rank + 1))
            np.add.at(counts, (np.arange(e - s)[:, None], np.minimum(ss, max_rank)), 1.0)
            hits[s:e] = counts.cumsum(1)[:, :max_rank] / repeats
        else:
            hits[s:e] = ranks[:, :1] <= np.arange(max_rank)[None, :]
    valid = n_all > 0
    num_valid = int(valid.sum())
    if num_valid == 0:
        _no_valid_query(nq)
    return ReIDMetrics(
        cmc=hits[valid].mean(0),
        mAP=float(ap[valid].mean()),
        mINP=float(inp[valid].mean()),
        num_valid=num_valid,
        num_skipped=nq - num_valid,
        protocol=proto.name,
        metric=metric if gal is not None else "precomputed",
        repeats=repeats if proto.single_gallery_shot else 1,
        valid=valid,
        query_ap=ap[valid],
        query_inp=inp[valid],
        query_cmc=hits[valid],
    )
