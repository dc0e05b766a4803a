"""Person re-identification: CMC, mAP and mINP without sorting the gallery.

Protocol (Market-1501, Zheng et al. 2015; torchreid's ``evaluate_rank``; fast-reid's mINP): for each
query, gallery images of the same identity seen by the same camera are removed, junk images (pid -1) are
never scored, distractors (pid 0) are negatives, and a query with no true match left is skipped (and
counted). Ties in distance are broken by gallery index, as a stable sort would.

How it is fast: distances are computed in chunks of queries (on the CPU through numpy's BLAS, on the GPU
with torch for CUDA tensors). The rank of a true match is the number of kept gallery items that come
before it, which is counted instead of sorted: per query the few true matches are sorted, every gallery
item is placed between them (``searchsorted`` on int64 keys made of the float32 distance's ordered bits
and the gallery index, so that ties need no special case) and a histogram of those places, cumulated,
gives every true match's rank at once. Gallery items further than the last true match cannot change CMC,
AP or INP, so when they are the majority only the items up to it are placed. CMC needs the rank of the
first true match, AP the ranks of all (from the cumulative hit count k at each), mINP the rank of the last.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pa100k.metrics.validation import check_positive_int, to_numpy
from pa100k.registry import Registry

log = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 1 << 24  # distances held per chunk of queries (64 MiB in float32)
_SINGLE_SHOT_ELEMENTS = 1 << 21  # (query, repeat, identity) draws held per chunk in single-gallery-shot
_SPARSE_FRACTION = 0.25  # place only the items up to the last true match when they are fewer than this share


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


def _chunk_rows(num_gallery: int, limit: int = _CHUNK_ELEMENTS) -> int:
    return max(1, limit // max(1, num_gallery))


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
    """The (n_query, n_gallery) distance matrix, computed in chunks exactly as :func:`reid_metrics` does."""
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
    rows = chunk_size or _chunk_rows(g.shape[0])
    out = torch.empty((q.shape[0], g.shape[0]), dtype=q.dtype, device=q.device)
    for s, d in _distance_chunks(q, g, metric, None, rows):
        out[s : s + d.shape[0]] = d
    return out


# ---------------------------------------------------------------------------------------- rank counting


@dataclass
class _Gallery:
    """Gallery identities laid out for gathering: ``members[u, :size[u]]`` are the indices of identity u."""

    cams: torch.Tensor  # (G,) camera of each kept gallery image
    upids: np.ndarray  # (U,) sorted unique ids
    members: torch.Tensor  # (U, Smax) int64, padded with 0
    sizes: torch.Tensor  # (U,) int64


def _gallery_layout(g_pids: np.ndarray, g_cams: np.ndarray, device: torch.device, positive_only: bool) -> _Gallery:
    sel = g_pids > 0 if positive_only else np.ones(len(g_pids), dtype=bool)
    idx = np.flatnonzero(sel)
    order = idx[np.argsort(g_pids[idx], kind="stable")]  # grouped by id, ascending gallery index within
    upids, starts, sizes = np.unique(g_pids[order], return_index=True, return_counts=True)
    smax = int(sizes.max()) if len(sizes) else 1
    members = np.zeros((len(upids), smax), dtype=np.int64)
    if len(order):
        col = np.arange(len(order)) - np.repeat(starts, sizes)
        members[np.repeat(np.arange(len(upids)), sizes), col] = order
    return _Gallery(
        cams=torch.from_numpy(g_cams).to(device),
        upids=upids,
        members=torch.from_numpy(members).to(device),
        sizes=torch.from_numpy(sizes.astype(np.int64)).to(device),
    )


def _float_order(values: torch.Tensor, non_negative: bool) -> torch.Tensor:
    """int64 in [0, 2**32) ordered as the float32 ``values`` (``-0.0`` folded onto ``+0.0``, as float comparison
    does). When no value has its sign bit set the bits are already ordered and are used as they are."""
    if non_negative:
        return values.view(torch.int32).to(torch.int64)
    bits = (values + 0.0).view(torch.int32).to(torch.int64)
    return torch.where(bits < 0, -(bits & 0x7FFFFFFF) - 1, bits) + (1 << 31)


def _row_keys(values: torch.Tensor, cols: torch.Tensor, col_bits: int, non_negative: bool) -> torch.Tensor:
    """Keys unique within a row, ordered as (float32 distance, gallery index): ``order << col_bits | index``."""
    keys = _float_order(values, non_negative)
    keys.bitwise_left_shift_(col_bits)
    return keys.bitwise_or_(cols)


def _as_float32_if_exact(dist: torch.Tensor) -> torch.Tensor:
    """float64 distances that float32 holds exactly (e.g. integer ranks) as float32; others unchanged."""
    if dist.dtype == torch.float64:
        d32 = dist.float()
        if torch.equal(d32.double(), dist):
            return d32
    return dist


def _count_before(td: torch.Tensor, tidx: torch.Tensor, vals: torch.Tensor, vidx: torch.Tensor) -> torch.Tensor:
    """For values with gallery indices (rows of ``vals``), the number of true matches before them in (distance,
    index) order; brute force over the few matches, for small inputs."""
    lt = td.unsqueeze(-2) < vals.unsqueeze(-1)
    tie = (td.unsqueeze(-2) == vals.unsqueeze(-1)) & (tidx.unsqueeze(-2) < vidx.unsqueeze(-1))
    return (lt | tie).sum(-1)


class _TieKeys:
    """Resolves ties with true-match distances by gallery index, with one 1-D ``searchsorted``.

    The sorted true matches of a row form runs of equal distance, and within a run the gallery indices
    ascend (stable sort). Key of match j: ``(row * nb + start of its run) * G + gallery index``, ascending
    over the flattened (row, j) order; padding after the n true matches gets the key of a run starting at n.
    An item tied with the run starting at position L is placed after the run's members with a smaller
    gallery index: its bucket is the position of ``(row * nb + L) * G + its index`` among the keys, minus
    ``row * Smax``.
    """

    def __init__(self, td: torch.Tensor, tidx: torch.Tensor, n: torch.Tensor, num_gallery: int) -> None:
        bq, smax = td.shape
        dev = td.device
        j = torch.arange(smax, device=dev).unsqueeze(0)
        starts = torch.ones_like(td, dtype=torch.bool)
        starts[:, 1:] = td[:, 1:] != td[:, :-1]
        run = torch.cummax(torch.where(starts, j, 0), dim=1).values
        row = torch.arange(bq, device=dev).unsqueeze(1)
        self.nb, self.smax, self.g = smax + 1, smax, num_gallery
        keys = (row * self.nb + run) * num_gallery + tidx
        pad = (row * self.nb + n.unsqueeze(1)) * num_gallery
        self.keys = torch.where(j < n.unsqueeze(1), keys, pad).reshape(-1)

    def place(self, b: torch.Tensor, tied: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> None:
        """For tied entries (``b`` = start of the equal-distance run), add the run members before them."""
        p = tied.nonzero().squeeze(1)
        r, lo = rows[p], b[p]
        b[p] = torch.searchsorted(self.keys, (r * self.nb + lo) * self.g + cols[p]) - r * self.smax


def _match_ranks(
    dist: torch.Tensor, q_cams: torch.Tensor, q_group: torch.Tensor, gal: _Gallery
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """0-based ranks of every true match of every query in the chunk.

    Returns ``ranks`` (B, Smax), ascending, valid where ``k < n``; ``n`` (B,); and the candidates (``cand``,
    gallery indices of the query's identity; ``match``, which of them are kept true matches).
    """
    dist = _as_float32_if_exact(dist)
    bq, ng = dist.shape
    dev = dist.device
    has = q_group >= 0
    grp = q_group.clamp(min=0)
    cand = gal.members[grp]  # (B, Smax) ascending gallery indices of the query's identity
    smax = cand.shape[1]
    in_group = (torch.arange(smax, device=dev).unsqueeze(0) < gal.sizes[grp].unsqueeze(1)) & has.unsqueeze(1)
    same_cam = gal.cams[cand] == q_cams.unsqueeze(1)
    match = in_group & ~same_cam
    removed = in_group & same_cam
    cd = dist.gather(1, cand)
    inf = torch.tensor(math.inf, dtype=dist.dtype, device=dev)
    td, perm = torch.sort(torch.where(match, cd, inf), dim=1, stable=True)  # (distance, index) order
    tidx = cand.gather(1, perm)
    n = match.sum(1)
    nb = smax + 1  # buckets 0..smax: bucket k holds items after k true matches
    offsets = torch.arange(bq, device=dev) * nb

    tlast = td.gather(1, (n - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    tlast = torch.where(n > 0, tlast, torch.tensor(-math.inf, dtype=dist.dtype, device=dev))
    if dist.dtype == torch.float32:
        # keys (distance, gallery index) are unique within a row: an item's bucket is the number of true-match
        # keys below its key, so ties need no special care
        col_bits = max(1, (ng - 1).bit_length())
        non_negative = int(dist.view(torch.int32).min()) >= 0
        j = torch.arange(smax, device=dev).unsqueeze(0)
        tkeys = _row_keys(td, tidx, col_bits, non_negative)
        row_end = _row_keys(torch.full_like(td[:, :1], math.inf), torch.tensor((1 << col_bits) - 1), col_bits,
                            non_negative)
        tkeys = torch.where(j < n.unsqueeze(1), tkeys, row_end)  # padding: the last key of the row
        sel = dist <= tlast.unsqueeze(1)  # items after the last true match change nothing
        row_shift = 32 + col_bits
        sparse = int(torch.count_nonzero(sel)) <= _SPARSE_FRACTION * bq * ng
        if sparse and max(1, (bq - 1).bit_length()) + row_shift <= 63:
            # only the selected items, searched in one flat sequence: row in the high bits
            rows, cols = sel.nonzero(as_tuple=True)
            keys = _row_keys(dist[rows, cols], cols, col_bits, non_negative) | (rows << row_shift)
            flat = tkeys | (torch.arange(bq, device=dev).unsqueeze(1) << row_shift)
            b = torch.searchsorted(flat.view(-1), keys) - rows * smax
            hist = torch.bincount(rows * nb + b, minlength=bq * nb).view(bq, nb)
        else:
            keys = _row_keys(dist, torch.arange(ng, device=dev).unsqueeze(0), col_bits, non_negative)
            b = torch.searchsorted(tkeys, keys)  # (B, G)
            hist = torch.zeros((bq, nb), dtype=torch.int64, device=dev)
            hist.scatter_add_(1, b, torch.ones((), dtype=torch.int64, device=dev).expand_as(b))
    else:  # float64 distances: place every item, then order ties with true matches by gallery index
        b_full = torch.searchsorted(td, dist)  # (B, G): number of true matches strictly closer
        td_pad = torch.cat([td, torch.full((bq, 1), math.inf, dtype=td.dtype, device=dev)], dim=1)
        tied = td_pad.gather(1, b_full) == dist  # equal to the next true match's distance
        rows_t, cols_t = tied.nonzero(as_tuple=True)
        bt = b_full[rows_t, cols_t]
        _TieKeys(td, tidx, n, ng).place(bt, torch.ones_like(bt, dtype=torch.bool), rows_t, cols_t)
        b_full[rows_t, cols_t] = bt
        hist = torch.zeros((bq, nb), dtype=torch.int64, device=dev)
        hist.scatter_add_(1, b_full, torch.ones((), dtype=torch.int64, device=dev).expand_as(b_full))
    # same identity, same camera: ranked above but not kept; take them out of the histogram
    if bool(removed.any()):
        rb = _count_before(td, tidx, torch.where(removed, cd, inf), cand)
        drop = removed & (rb < n.unsqueeze(1))
        if bool(drop.any()):
            hist -= torch.bincount((rb + offsets.unsqueeze(1))[drop], minlength=bq * nb).view(bq, nb)
    ranks = hist.cumsum(1)[:, :smax] - 1  # rank of true match k = kept items up to and including it, minus 1
    return ranks, n, cand, match


# ------------------------------------------------------------------------------- single-gallery-shot CMC


def _single_shot_ranks(
    dist: torch.Tensor, start: int, q_pids: torch.Tensor, all_groups: _Gallery, cand: torch.Tensor,
    match: torch.Tensor, n: torch.Tensor, repeats: int, seed: int,
) -> torch.Tensor:
    """(B, repeats) 0-based rank of the drawn true match among one drawn image per gallery identity.

    Draw r of query i (0-based position in the query list) uses ``numpy.random.default_rng([seed, i])``:
    ``u = rng.random((repeats, U))`` over the U gallery identities (ascending id, junk excluded); identity
    u's image is its ``min(floor(u * size), size - 1)``-th kept image in gallery order.
    """
    bq = dist.shape[0]
    dev = dist.device
    u_count = len(all_groups.upids)
    draws = np.stack([np.random.default_rng([seed, start + i]).random((repeats, u_count)) for i in range(bq)])
    draws_t = torch.from_numpy(draws).to(dev)  # (B, R, U) float64
    sizes = all_groups.sizes.to(torch.float64)
    pick = torch.minimum((draws_t * sizes).floor().long(), all_groups.sizes - 1)  # (B, R, U)
    g_idx = all_groups.members.unsqueeze(0).unsqueeze(0).expand(bq, repeats, -1, -1)
    g_idx = g_idx.gather(3, pick.unsqueeze(-1)).squeeze(-1)  # (B, R, U) gallery index drawn per identity
    own = torch.from_numpy(np.searchsorted(all_groups.upids, q_pids.cpu().numpy())).to(dev)
    own = own.clamp(max=max(u_count - 1, 0))
    # the query's own identity: draw among its kept (other-camera) images, in gallery order
    u_own = draws_t.gather(2, own.view(bq, 1, 1).expand(bq, repeats, 1)).squeeze(-1)  # (B, R)
    k_own = torch.minimum((u_own * n.unsqueeze(1).to(torch.float64)).floor().long(), (n - 1).clamp(min=0).unsqueeze(1))
    cum = match.long().cumsum(1)  # (B, Smax)
    slot = torch.searchsorted(cum, (k_own + 1).contiguous())
    own_idx = cand.gather(1, slot.clamp(max=cand.shape[1] - 1))  # (B, R)
    d_own = dist.gather(1, own_idx)
    d_all = dist.gather(1, g_idx.reshape(bq, -1)).view(bq, repeats, u_count)
    before = (d_all < d_own.unsqueeze(-1)) | ((d_all == d_own.unsqueeze(-1)) & (g_idx < own_idx.unsqueeze(-1)))
    not_own = torch.arange(u_count, device=dev).view(1, 1, -1) != own.view(bq, 1, 1)
    return (before & not_own).sum(-1)


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
) -> ReIDMetrics:
    """CMC, mAP and mINP of a ReID ranking (Market-1501 protocol; single-gallery-shot for CUHK03/VIPeR).

    Parameters
    ----------
    query_features_or_distmat : array or tensor
        (n_query, dim) query features, or an (n_query, n_gallery) distance matrix when
        ``gallery_features`` is None. CUDA tensors are evaluated on their GPU.
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
        Queries per chunk (default: about 16M distances per chunk).

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
    max_rank = check_positive_int(max_rank, "max_rank")
    repeats = check_positive_int(repeats, "repeats")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, found {seed!r}")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    first, gal, qp, gp, qc, gc = _validated(
        query_features_or_distmat, gallery_features, q_pids, g_pids, q_camids, g_camids, metric
    )
    dev = first.device
    keep = gp != -1
    if not keep.any():
        raise ValueError("g_pids: every gallery image is junk (pid -1); nothing can be ranked")
    keep_cols = None if keep.all() else torch.from_numpy(np.flatnonzero(keep)).to(dev)
    gp_k, gc_k = gp[keep], gc[keep]
    num_gallery = len(gp_k)
    if max_rank > num_gallery:
        log.info("max_rank %d lowered to the %d non-junk gallery images", max_rank, num_gallery)
        max_rank = num_gallery

    layout = _gallery_layout(gp_k, gc_k, dev, positive_only=True)
    q_group = np.searchsorted(layout.upids, qp)
    found = (qp > 0) & (q_group < len(layout.upids))
    found[found] = layout.upids[q_group[found]] == qp[found]
    if not found.any():
        _no_valid_query(len(qp))
    q_group_t = torch.from_numpy(np.where(found, q_group, -1)).to(dev)
    qp_t, qc_t = torch.from_numpy(qp).to(dev), torch.from_numpy(qc).to(dev)
    all_groups = _gallery_layout(gp_k, gc_k, dev, positive_only=False) if proto.single_gallery_shot else None

    nq = len(qp)
    rows = chunk_size or _chunk_rows(num_gallery)
    if proto.single_gallery_shot:
        rows = min(rows, max(1, _SINGLE_SHOT_ELEMENTS // (repeats * len(all_groups.upids))))
    ap = np.zeros(nq)
    inp = np.zeros(nq)
    valid = np.zeros(nq, dtype=bool)
    hits = np.zeros((nq, max_rank))
    for s, dist in _distance_chunks(first, gal, metric, keep_cols, rows):
        e = s + dist.shape[0]
        ranks, n, cand, match = _match_ranks(dist, qc_t[s:e], q_group_t[s:e], layout)
        k = torch.arange(ranks.shape[1], device=dev).unsqueeze(0)
        ok = k < n.unsqueeze(1)
        nf = n.to(torch.float64).clamp(min=1)
        ap_c = torch.where(ok, (k + 1).to(torch.float64) / (ranks + 1).to(torch.float64), 0.0).sum(1) / nf
        last = ranks.gather(1, (n - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        inp_c = n.to(torch.float64) / (last + 1).to(torch.float64)
        v = (n > 0).cpu().numpy()
        valid[s:e] = v
        ap[s:e] = ap_c.cpu().numpy()
        inp[s:e] = inp_c.cpu().numpy()
        if proto.single_gallery_shot:
            ss = _single_shot_ranks(dist, s, qp_t[s:e], all_groups, cand, match, n, repeats, seed)
            counts = torch.zeros((dist.shape[0], max_rank + 1), dtype=torch.float64, device=dev)
            counts.scatter_add_(1, ss.clamp(max=max_rank), torch.ones_like(ss, dtype=torch.float64))
            hits[s:e] = (counts.cumsum(1)[:, :max_rank] / repeats).cpu().numpy()
        else:
            first_rank = ranks[:, 0].cpu().numpy()
            hits[s:e] = first_rank[:, None] <= np.arange(max_rank)[None, :]
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
