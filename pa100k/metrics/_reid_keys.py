"""Ranking keys of (query, gallery) pairs at three precisions, for :func:`pa100k.metrics.reid_metrics`.

Exact ranking (``precision="exact"``, the default for features) orders the gallery of each query by the
exact real value of a key of the *prepared* features ``q`` (query) and ``g`` (gallery), ties by gallery
index. The prepared features are the float32 features (float64 when given float64); for cosine each row is
multiplied, elementwise in that dtype, by ``s = 1 / max(‖row‖, 1e-12)`` (norm and division in float64,
``s`` rounded once to the dtype): :func:`prepare_features`. Keys (``EXACT_KEYS``):

- cosine: ``key = -q·g`` (ranks as ``1 - cos``);
- sqeuclidean and euclidean: ``key = ½‖g‖² - q·g`` (ranks as ``‖q - g‖²``: ``‖q‖²`` is the same for every
  gallery image, and the square root is increasing).

A real value does not depend on the order of a sum, so the ranking is the same on any BLAS, thread count,
chunk size or device. It is reached in three steps, each used only where the one before cannot decide:

1. **approximate**: one float32 matrix product ``-q @ gᵀ`` per chunk of queries, then (cosine) each column
   times ``fl32(s_j)`` or (Euclidean) plus ``fl32(½‖g_j‖²)``. Whatever the order of the K = d roundings,
   ``|fl(Σ_k a_k b_k) - Σ_k a_k b_k| ≤ γ_d · Σ_k |a_k b_k|`` with ``γ_d = d·2⁻²⁴ / (1 - d·2⁻²⁴)`` (Higham,
   *Accuracy and Stability of Numerical Algorithms*, §3.1), and ``Σ_k |a_k b_k| ≤ ‖a‖·‖b‖``
   (Cauchy-Schwarz). With the few extra roundings, the bound ``e1`` of query i is
   ``(γ_d + 4·2⁻²⁴)·‖q_i‖`` for cosine (unit gallery rows) and ``(γ_d + 2⁻²⁴)·‖q_i‖·max‖g‖ + (2⁻²³ +
   2γ_{d+1}(2⁻⁵³))·max ½‖g‖²`` for the Euclidean key, plus ``3·2⁻²⁴·‖q_i‖‖g‖`` when float64 features are
   rounded to float32 and ``2⁻⁶·‖q_i‖‖g‖`` on a GPU allowed TF32 or bfloat16 products. For d = 2048 that is
   about 1.2e-4 on a cosine distance.
2. **refined**: float64 dot products of the few pairs whose approximation is within ``e1`` of a decision
   (products of float32 numbers are exact in float64): ``|refined - key| ≤ e2 = 2·γ_{d+3}(2⁻⁵³)·(‖q‖‖g‖ +
   ½‖g‖²)``, about 1e-12 relative. A chunk with very many such pairs (features full of near-ties at float32
   precision) is instead refined whole with one float64 product, whose float32 rounding then serves as
   approximation.
3. **exact**: pairs whose refined keys are within ``2·e2`` of each other (in practice: equal features,
   hence equal keys) are compared in integer arithmetic on the floats' mantissas and exponents.

``precision="float32"`` (and a distance matrix given by the caller) ranks the float32 (or given) numbers
themselves; the same code runs with a zero bound (or the float32 rounding of given float64 numbers), so
only equal numbers are left undecided, and they are tied and ordered by gallery index.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from pa100k.registry import Registry

U32 = 2.0**-24  # unit roundoff of float32
U64 = 2.0**-53  # unit roundoff of float64
_SAFETY = 1 + 2.0**-20  # covers the roundings of the bound arithmetic itself
_DEVICE_LOW_PRECISION = 2.0**-6  # TF32 / bfloat16 products on a GPU: both inputs rounded to >= 8 bits


def gamma(n: int, u: float) -> float:
    """Higham's γ_n = n·u / (1 - n·u): relative error bound of any n-term floating-point sum of products."""
    nu = n * u
    if nu >= 0.5:
        raise ValueError(f"feature dimension {n} is too large for the float32 error bound (n·u = {nu:.3g})")
    return nu / (1 - nu)


@dataclass(frozen=True)
class ExactKey:
    """How a distance metric ranks exactly: ``key = ½‖g‖² - q·g`` (``half_sq_norm``) or ``-q·g``, on features
    whose rows are first scaled by their inverse L2 norm when ``normalise`` (:func:`prepare_features`)."""

    name: str
    normalise: bool
    half_sq_norm: bool
    description: str = ""


EXACT_KEYS: Registry[ExactKey] = Registry("exact ReID ranking key")
for _k in (
    ExactKey("cosine", normalise=True, half_sq_norm=False, description="1 - cos(q, g) ranks as -q̂·ĝ"),
    ExactKey("sqeuclidean", normalise=False, half_sq_norm=True, description="‖q - g‖² ranks as ½‖g‖² - q·g"),
    ExactKey("euclidean", normalise=False, half_sq_norm=True, description="‖q - g‖ ranks as ½‖g‖² - q·g"),
):
    EXACT_KEYS.add(_k.name, _k)


# ------------------------------------------------------------------------------------------ preparation


def _to_cpu_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype != np.float64:
        x = x.astype(np.float32, copy=False)  # float16/bfloat16 (already float32 by validation) are exact
    return np.ascontiguousarray(x)


def _sq_norms(x: np.ndarray) -> np.ndarray:
    """Float64 ``‖x‖²`` of each row (squares and sums in float64: relative error at most γ_{d+1}(2⁻⁵³)); the
    same row gives the same bits whatever other rows are passed."""
    return np.einsum("ij,ij->i", x, x, dtype=np.float64)


def _inverse_norms(x: np.ndarray) -> np.ndarray:
    """``1 / max(‖x‖, 1e-12)`` of each row: norm and division in float64, rounded once to ``x``'s dtype."""
    return (1.0 / np.maximum(np.sqrt(_sq_norms(x)), 1e-12)).astype(x.dtype)


def _scale_rows(x: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``x[i] * factors[i]`` elementwise in ``x``'s dtype (one rounding per element)."""
    return x * factors[:, None]


def prepare_features(
    query: torch.Tensor | np.ndarray, gallery: torch.Tensor | np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """The float32 (or float64) CPU features whose exact keys are ranked: for cosine each row times its
    :func:`_inverse_norms` factor (an elementwise product in the features' dtype), otherwise the features
    as given."""
    q, g = _cpu_pair(query, gallery)
    if EXACT_KEYS.get(metric).normalise:
        q, g = _scale_rows(q, _inverse_norms(q)), _scale_rows(g, _inverse_norms(g))
    return q, g


def _cpu_pair(query: torch.Tensor | np.ndarray, gallery: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q, g = _to_cpu_numpy(query), _to_cpu_numpy(gallery)
    if q.dtype != g.dtype:
        q, g = q.astype(np.float64), g.astype(np.float64)
    return q, g


def half_sq_norms(g: np.ndarray) -> np.ndarray:
    """Float64 ``½‖g‖²`` of each row (relative error at most γ_{d+1}(2⁻⁵³))."""
    return 0.5 * _sq_norms(g)


# ------------------------------------------------------------------------------------------ exact keys


def _int_parts(x: np.ndarray) -> tuple[list[int], list[int]]:
    """Mantissas and exponents with ``x[k] == m[k] * 2**e[k]`` exactly (m integer, |m| < 2**53)."""
    m, e = np.frexp(x.astype(np.float64))
    return (m * 2.0**53).astype(np.int64).tolist(), (e.astype(np.int64) - 53).tolist()


class ExactValues:
    """Exact keys as integers ``(v, e)`` meaning ``v * 2**e``; cached per pair. ``g`` is the prepared
    gallery, or a function returning its rows for an index array."""

    def __init__(self, q: np.ndarray, g: np.ndarray | Callable[[np.ndarray], np.ndarray], half_sq_norm: bool) -> None:
        self.q, self.half = q, half_sq_norm
        self.g_rows = g if callable(g) else (lambda cols: g[cols])
        self._q: dict[int, tuple[list[int], list[int]]] = {}
        self._g: dict[int, tuple[list[int], list[int]]] = {}
        self._keys: dict[tuple[int, int], tuple[int, int]] = {}

    def key(self, i: int, j: int) -> tuple[int, int]:
        """Exact key of query ``i`` and gallery ``j``."""
        if (i, j) in self._keys:
            return self._keys[i, j]
        if i not in self._q:
            self._q[i] = _int_parts(self.q[i])
        if j not in self._g:
            self._g[j] = _int_parts(self.g_rows(np.array([j]))[0])
        (mq, eq), (mg, eg) = self._q[i], self._g[j]
        terms = [(-a * b, x + y) for a, x, b, y in zip(mq, eq, mg, eg) if a and b]
        if self.half:
            terms += [(b * b, 2 * y - 1) for b, y in zip(mg, eg) if b]
        if not terms:
            value = (0, 0)
        else:
            base = min(e for _, e in terms)
            value = (sum(v << (e - base) for v, e in terms), base)
        self._keys[i, j] = value
        return value

    def compare(self, i: int, a: int, b: int) -> int:
        """Sign of ``key(i, a) - key(i, b)``, exactly."""
        (va, ea), (vb, eb) = self.key(i, a), self.key(i, b)
        m = min(ea, eb)
        d = (va << (ea - m)) - (vb << (eb - m))
        return (d > 0) - (d < 0)


# ------------------------------------------------------------------------------------------ chunk keys


@dataclass
class ChunkKeys:
    """Keys of a chunk of queries (rows) against the kept gallery (columns), at three precisions.

    ``approx`` (B, G) float32 with ``|approx - key| ≤ e1`` per row; ``refine(rows, cols)`` float64 keys with
    ``|refined - key| ≤ e2`` per row; ``compare(row, a, b)`` the exact sign of ``key(row, a) - key(row, b)``,
    asked only when the refined keys are within ``2·e2``; ``candidate_keys``, when given, the refined keys
    of each query's identity members (the ``cand`` slots of :func:`~pa100k.metrics._reid_ranks.candidates`);
    ``refined``, when given, makes the same chunk with every key refined (for chunks full of near-ties).
    """

    approx: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    refine: Callable[[np.ndarray, np.ndarray], np.ndarray]
    compare: Callable[[int, int, int], int]
    candidate_keys: np.ndarray | None = None  # (B, Smax) refined keys of the candidates, when precomputed
    refined: Callable[[], ChunkKeys] | None = None  # the same chunk with every key refined, when available


def _never_called(row: int, a: int, b: int) -> int:
    return 0  # given numbers: equal refined keys are equal keys


def given_chunk(values: np.ndarray) -> ChunkKeys:
    """Keys that are the given numbers (a distance matrix, or float32 distances): float32 approximations
    with their rounding as the bound, the numbers themselves as refined keys."""
    if values.dtype == np.float32:
        approx = values
        e1 = np.zeros(values.shape[0])
    else:
        values = values.astype(np.float64, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32's range: an infinite bound
            approx = values.astype(np.float32)
            err = np.abs(values - approx.astype(np.float64))
        e1 = err.max(axis=1) * _SAFETY if err.size else np.zeros(values.shape[0])
    return ChunkKeys(
        approx=approx,
        e1=e1,
        e2=np.zeros(values.shape[0]),
        refine=lambda rows, cols: values[rows, cols].astype(np.float64),
        compare=_never_called,
    )


class ExactScorer:
    """Approximate, refined and exact keys of every query against the kept gallery (see the module notes).

    Takes the features as given (products run on ``device``, the rest on the CPU). For cosine the
    prepared gallery rows ``g[j] * s_j`` (``s_j`` = :func:`_inverse_norms`) are never stored whole: the
    product runs on ``g``, each column is then scaled by ``s_j`` (the roundings are in the bound), and the
    few rows that are refined are scaled when needed, exactly as :func:`prepare_features` scales them.
    """

    def __init__(
        self, query: torch.Tensor | np.ndarray, gallery: torch.Tensor | np.ndarray, metric: str, device: torch.device
    ) -> None:
        key = EXACT_KEYS.get(metric)
        q, g = _cpu_pair(query, gallery)
        self.factors = _inverse_norms(g) if key.normalise else None
        if key.normalise:
            q = _scale_rows(q, _inverse_norms(q))
        self.q, self.g, self.half = q, g, key.half_sq_norm
        d = q.shape[1]
        self.exact = ExactValues(q, self.gallery_rows, self.half)
        self.gg_half = half_sq_norms(g) if self.half else None
        d_in = 0.0 if q.dtype == np.float32 else U32  # rounding of float64 features to float32 operands
        d_dev = _DEVICE_LOW_PRECISION if _low_precision_matmul(device) else 0.0
        base = gamma(d, U32) + d_dev + 3 * d_in  # relative bound of the float32 product itself
        qn = np.sqrt(_sq_norms(q)) * (1 + 2.0**-30)  # ≥ ‖q_i‖
        scale = None
        if self.factors is not None:  # -q̂·g, column j then scaled by fl32(s_j)
            h = 0.0
            if 2.0**-40 <= float(self.factors.min()) and float(self.factors.max()) <= 2.0**40:
                # ‖g_j‖ s_j ≤ 1 + 2⁻²², so Σ_k |q̂_ik g_jk| s_j ≤ p; roundings of s_j to float32, of the
                # scaling and of ĝ = fl(g s_j) add 3·2⁻²⁴ relative, products below 2⁻¹²⁶ at most d·2⁻⁸⁴
                p = qn * (1 + 2.0**-20)
                e1 = (base + 4 * U32) * p + d * 2.0**-84
                scale = self.factors.astype(np.float32)
                g_op = g.astype(np.float32, copy=False)
            else:  # extreme norms: multiply the prepared rows themselves
                g_prep = _scale_rows(g, self.factors)
                p = qn * float(np.sqrt(_sq_norms(g_prep).max())) * (1 + 2.0**-30)
                e1 = base * p + d * 2.0**-124
                g_op = g_prep.astype(np.float32, copy=False)
        else:  # ½‖g‖² - q·g: products of -q with g, then + fl32(½‖g_j‖²)
            p = qn * float(np.sqrt(_sq_norms(g).max())) * (1 + 2.0**-30)  # ≥ Σ_k |q_ik g_jk|
            h = float(self.gg_half.max()) * (1 + 2.0**-30)  # ≥ ½‖g_j‖²
            e1 = (base + U32) * p + (2 * U32 + 2 * gamma(d + 1, U64)) * h + d * 2.0**-124
            g_op = g.astype(np.float32, copy=False)
            scale = None
        if not np.isfinite(p).all() or not math.isfinite(h) or float(p.max(initial=0.0)) + h > 2.0**100:
            g_max = float(np.sqrt(_sq_norms(g).max()))
            raise ValueError(
                f"gallery_features: feature norms up to {g_max:.3g} (queries: {float(qn.max()):.3g}) are too large "
                "to rank exactly with float32 products; rescale the features or pass precision='float32'"
            )
        self.e1 = e1 * _SAFETY
        self.e2 = (2 * gamma(d + 3, U64) * (p + h) + (d + 3) * 2.0**-1020) * _SAFETY
        q_op = (-q).astype(np.float32, copy=False)  # negation is exact: the products give -q·g
        self._scale = scale
        self._shift = self.gg_half.astype(np.float32) if self.half else None
        self._torch = _torch_products(device)
        if self._torch:
            self._q_op, self._g_op = torch.from_numpy(q_op).to(device), torch.from_numpy(g_op).to(device)
        else:
            self._q_op, self._g_op = np.ascontiguousarray(q_op), np.ascontiguousarray(g_op)
        self._buffers: list[np.ndarray | None] = [None, None]
        self._turn = 0
        self._candidates: np.ndarray | None = None
        self._g64: np.ndarray | None = None
        self._refine_all = False
        self._lock = threading.Lock()

    def gallery_rows(self, cols: np.ndarray) -> np.ndarray:
        """The prepared gallery rows ``cols`` (bit for bit those of :func:`prepare_features`)."""
        rows = self.g[cols]
        return rows if self.factors is None else _scale_rows(rows, self.factors[cols])

    def _approx(self, s: int, e: int) -> np.ndarray:
        if self._torch:
            out = (self._q_op[s:e] @ self._g_op.T).cpu().numpy()
        else:
            rows = e - s
            self._turn ^= 1  # two buffers: a chunk is ranked while the next one is multiplied
            buf = self._buffers[self._turn]
            if buf is None or buf.shape[0] < rows:
                buf = self._buffers[self._turn] = np.empty((rows, self._g_op.shape[0]), dtype=np.float32)
            out = buf[:rows]
            np.matmul(self._q_op[s:e], self._g_op.T, out=out)
        if self._scale is not None:
            np.multiply(out, self._scale, out=out)
        if self._shift is not None:
            np.add(out, self._shift, out=out)
        return out

    def refine_rows(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Float64 keys of the pairs (query ``rows``, gallery ``cols``), one matrix-vector product per query."""
        out = np.empty(len(rows))
        if len(rows) == 0:
            return out
        order = np.argsort(rows, kind="stable")
        r = rows[order]
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        ends = np.r_[starts[1:], len(r)]
        for a, b in zip(starts.tolist(), ends.tolist()):
            idx = order[a:b]
            c = cols[idx]
            dots = np.einsum("ij,j->i", self.gallery_rows(c), self.q[r[a]].astype(np.float64))  # float64
            out[idx] = (self.gg_half[c] - dots) if self.half else -dots
        return out

    def refined_chunk(self, s: int, e: int) -> ChunkKeys:
        """Keys of queries ``s..e-1`` from float64 products with the whole gallery, for chunks where too many
        pairs are near-ties at float32 precision: the float64 keys become the refined keys, their float32
        roundings the approximations (bound ``e2`` plus the rounding)."""
        self._refine_all = True
        with self._lock:  # the worker thread may be making the next chunk
            if self._g64 is None:
                self._g64 = self.gallery_rows(np.arange(self.g.shape[0])).astype(np.float64)
        keys = self.q[s:e].astype(np.float64) @ self._g64.T
        if self.half:
            np.subtract(self.gg_half[None, :], keys, out=keys)
        else:
            np.negative(keys, out=keys)
        approx = keys.astype(np.float32)
        # |key - fl32(key)| ≤ 2⁻²⁴·|key| (+ 2⁻¹⁵⁰ below float32's normal range), without a temporary matrix
        rounding = U32 * np.maximum(np.abs(keys.max(axis=1)), np.abs(keys.min(axis=1))) + 2.0**-149
        return ChunkKeys(
            approx=approx,
            e1=(self.e2[s:e] + rounding) * _SAFETY,
            e2=self.e2[s:e],
            refine=lambda rows, cols: keys[rows, cols],
            compare=lambda row, a, b: self.exact.compare(row + s, a, b),
            candidate_keys=None if self._candidates is None else self._candidates[s:e],
        )

    def set_candidates(self, members: np.ndarray, sizes: np.ndarray, q_group: np.ndarray) -> None:
        """Refine, once, every query's keys to the members of its identity (``members[q_group[i], :size]``;
        ``q_group`` -1 for none): one small float64 product per identity, each gallery row converted once."""
        out = np.full((len(q_group), members.shape[1]), np.inf)
        order = np.argsort(q_group, kind="stable")
        order = order[q_group[order] >= 0]
        grp = q_group[order]
        starts = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]]) if len(grp) else np.zeros(0, dtype=np.int64)
        for a, b in zip(starts.tolist(), np.r_[starts[1:], len(grp)].tolist()):
            qs, u = order[a:b], int(grp[a])
            m = members[u, : sizes[u]]
            dots = self.q[qs].astype(np.float64) @ self.gallery_rows(m).astype(np.float64).T
            out[qs, : len(m)] = (self.gg_half[m][None, :] - dots) if self.half else -dots
        self._candidates = out

    def chunk(self, s: int, e: int) -> ChunkKeys:
        """Keys of queries ``s..e-1`` (fully refined straight away once an earlier chunk needed it: the
        features are then full of near-ties at float32 precision)."""
        if self._refine_all:
            return self.refined_chunk(s, e)
        cand = self._candidates
        return ChunkKeys(
            approx=self._approx(s, e),
            e1=self.e1[s:e],
            e2=self.e2[s:e],
            refine=lambda rows, cols: self.refine_rows(rows + s, cols),
            compare=lambda row, a, b: self.exact.compare(row + s, a, b),
            candidate_keys=None if cand is None else cand[s:e],
            refined=lambda: self.refined_chunk(s, e),
        )


def _torch_products(device: torch.device) -> bool:
    """Whether the approximate products run in torch (on a GPU) rather than numpy's BLAS (on the CPU)."""
    return device.type != "cpu"


def _low_precision_matmul(device: torch.device) -> bool:
    """Whether float32 products on ``device`` may round their inputs (TF32 / bfloat16 on CUDA)."""
    if device.type != "cuda":
        return False
    return bool(torch.backends.cuda.matmul.allow_tf32) or torch.get_float32_matmul_precision() != "highest"
