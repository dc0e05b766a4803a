"""Bootstrap uncertainty for any scalar metric: percentile confidence intervals and paired comparisons.

Resampling draws the test items (images, or whole groups such as identities) with replacement. A metric
that offers ``metric_fn.weighted(*arrays, weights)`` (the attribute scores such as
:data:`~pa100k.metrics.mean_accuracy`, and :data:`sample_mean`) is evaluated on all replicates at once from
how often each item was drawn; any other callable is called once per replicate on the resampled arrays.
Both routes see the same draws, so they give the same interval.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from pa100k.metrics.validation import check_positive_int, check_probability, to_numpy

log = logging.getLogger(__name__)

_BLOCK = 64  # replicates drawn per block; fixed so that the draws never depend on the route
_WEIGHT_ELEMENTS = 1 << 23  # replicate weights evaluated together by a weighted metric (64 MiB of float64)


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with a bootstrap percentile interval ``[low, high]`` at level ``1 - alpha``."""

    estimate: float
    low: float
    high: float
    alpha: float = 0.05
    n: int = 1000

    @property
    def half_width(self) -> float:
        """Half the interval's width, the ``± x`` of a report."""
        return (self.high - self.low) / 2

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"74.2 ± 0.4"`` (values multiplied by ``scale``)."""
        return f"{self.estimate * scale:.{digits}f} ± {self.half_width * scale:.{digits}f}"

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict:
        """JSON-serialisable fields plus the half width."""
        return {
            "estimate": self.estimate, "low": self.low, "high": self.high, "half_width": self.half_width,
            "alpha": self.alpha, "n": self.n,
        }


class _SampleMean:
    """Mean of a 1-D array of per-item values (e.g. per-query AP), with a weighted form for the bootstrap."""

    def __call__(self, values: Any) -> float:
        return float(np.mean(np.asarray(values, dtype=np.float64)))

    def weighted(self, values: Any, weights: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        return (weights @ v) / weights.sum(axis=1)

    def __repr__(self) -> str:
        return "sample_mean"


sample_mean = _SampleMean()


# ------------------------------------------------------------------------------------------------ draws


def _units(num_items: int, groups: Any) -> tuple[int, np.ndarray | None]:
    """Number of resampling units and, with groups, each item's unit (0..U-1)."""
    if groups is None:
        return num_items, None
    g = to_numpy(groups, "groups")
    if g.ndim != 1 or g.shape[0] != num_items:
        raise ValueError(f"groups: expected one group label per item ({num_items}), found shape {g.shape}")
    _, inverse = np.unique(g, return_inverse=True)
    return int(inverse.max()) + 1, inverse.reshape(-1)


def _draw_blocks(n: int, num_units: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of replicates, each row the drawn unit indices (with replacement)."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, _BLOCK):
        yield rng.integers(0, num_units, size=(min(_BLOCK, n - start), num_units))


def _unit_counts(draws: np.ndarray, num_units: int) -> np.ndarray:
    """How often each unit was drawn, per replicate: (block, U)."""
    rows = np.repeat(np.arange(draws.shape[0]), draws.shape[1])
    flat = rows * num_units + draws.reshape(-1)
    return np.bincount(flat, minlength=draws.shape[0] * num_units).reshape(draws.shape[0], num_units)


class _GroupLayout:
    """Items sorted by group, so that a drawn group's items are one slice."""

    def __init__(self, inverse: np.ndarray) -> None:
        self.order = np.argsort(inverse, kind="stable")
        self.sizes = np.bincount(inverse)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])


def _item_indices(draw: np.ndarray, layout: _GroupLayout | None) -> np.ndarray:
    """The resampled items of one replicate (whole groups when a group layout is given)."""
    if layout is None:
        return draw
    order, sizes, starts = layout.order, layout.sizes, layout.starts
    take = sizes[draw]
    offsets = np.repeat(starts[draw] - np.concatenate([[0], np.cumsum(take)[:-1]]), take)
    return order[offsets + np.arange(int(take.sum()))]


def _replicates(
    metric_fn: Callable[..., Any], arrays: list[np.ndarray], kwargs: dict, n: int, seed: int, groups: Any
) -> np.ndarray:
    """The metric on ``n`` bootstrap replicates of ``arrays`` (resampled along their first axis)."""
    num_items = arrays[0].shape[0]
    num_units, inverse = _units(num_items, groups)
    weighted = getattr(metric_fn, "weighted", None)
    layout = None if inverse is None or callable(weighted) else _GroupLayout(inverse)
    if callable(weighted):  # few large products: every replicate's weights, as many as fit at once
        pending: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for i, draws in enumerate(_draw_blocks(n, num_units, seed)):
            counts = _unit_counts(draws, num_units).astype(np.float64)
            pending.append(counts if inverse is None else counts[:, inverse])
            last = (i + 1) * _BLOCK >= n
            if last or sum(len(w) for w in pending) * num_items >= _WEIGHT_ELEMENTS:
                w = np.concatenate(pending)
                values.append(np.asarray(weighted(*arrays, weights=w, **kwargs), dtype=np.float64).reshape(-1))
                pending = []
        return np.concatenate(values)
    out = np.empty(n)
    pos = 0
    for draws in _draw_blocks(n, num_units, seed):
        for draw in draws:
            idx = _item_indices(draw, layout)
            resampled = [a[idx] for a in arrays]
            extra = {k: (v[idx] if isinstance(v, np.ndarray) and v.shape[:1] == (num_items,) else v)
                     for k, v in kwargs.items()}
            out[pos] = float(metric_fn(*resampled, **extra))
            pos += 1
    return out


def _arrays(arrays: tuple[Any, ...]) -> list[np.ndarray]:
    if not arrays:
        raise ValueError("arrays: expected at least one array to resample, found none")
    out = [to_numpy(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    for i, a in enumerate(out):
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError(f"arrays[{i}]: expected a non-empty array with items along axis 0, found shape {a.shape}")
        if a.shape[0] != out[0].shape[0]:
            raise ValueError(
                f"arrays[{i}]: expected {out[0].shape[0]} items (as arrays[0]) along axis 0, found {a.shape[0]}"
            )
    return out


def _array_or_value(value: Any, name: str) -> Any:
    """Arrays (numpy, torch) as numpy so that they can be resampled; anything else unchanged."""
    if isinstance(value, np.ndarray) or type(value).__module__.startswith("torch"):
        return to_numpy(value, name)
    return value


def _check_common(n: Any, seed: Any) -> int:
    n = check_positive_int(n, "n")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, found {seed!r}")
    return n


# ----------------------------------------------------------------------------------------------- public


def bootstrap_ci(
    metric_fn: Callable[..., Any],
    *arrays: Any,
    n: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    groups: Any = None,
    **kwargs: Any,
) -> ConfidenceInterval:
    """Percentile bootstrap confidence interval of ``metric_fn(*arrays)``.

    Parameters
    ----------
    metric_fn : callable
        Returns a scalar from the arrays, e.g. :data:`~pa100k.metrics.mean_accuracy` (called as
        ``metric_fn(y_true, y_score)``) or :data:`sample_mean` of per-query AP.
    *arrays : array-like
        Resampled together along their first axis (one row per test image or query).
    n : int, default 1000
        Bootstrap replicates.
    seed : int, default 0
    alpha : float, default 0.05
        The interval covers ``1 - alpha`` (the ``alpha/2`` and ``1 - alpha/2`` quantiles of the replicates).
    groups : array-like, optional
        One label per item; whole groups are resampled (identities for ReID, tracklets for PA-100K), which
        keeps correlated items together.
    **kwargs
        Passed to ``metric_fn``; an array with one row per item (e.g. ``mask=``) is resampled with the rest.

    Returns
    -------
    ConfidenceInterval
        ``estimate`` is the metric on the full test set. Replicates whose metric is NaN are dropped (and
        logged); the interval is NaN if all are.

    Examples
    --------
    >>> import numpy as np
    >>> ci = bootstrap_ci(sample_mean, np.array([0.5, 0.7, 0.9, 0.6]), n=200, seed=0)
    >>> round(ci.estimate, 3), ci.low <= ci.estimate <= ci.high
    (0.675, True)
    """
    n = _check_common(n, seed)
    alpha = check_probability(alpha, "alpha", open_interval=True)
    arrs = _arrays(arrays)
    kw = {k: _array_or_value(v, k) for k, v in kwargs.items() if v is not None}
    estimate = float(metric_fn(*arrs, **kw))
    reps = _replicates(metric_fn, arrs, kw, n, int(seed), groups)
    finite = reps[np.isfinite(reps)]
    if finite.size < reps.size:
        log.warning("bootstrap_ci: %d of %d replicates gave a non-finite metric and were dropped",
                    reps.size - finite.size, reps.size)
    if finite.size == 0:
        return ConfidenceInterval(estimate, math.nan, math.nan, alpha, n)
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return ConfidenceInterval(estimate, float(low), float(high), alpha, n)


def paired_bootstrap(
    metric_fn: Callable[..., Any],
    y_true: Any,
    scores_a: Any,
    scores_b: Any,
    *,
    n: int = 1000,
    seed: int = 0,
    mask: Any = None,
    groups: Any = None,
) -> float:
    """Probability that method A scores higher than method B on the same test set (paired bootstrap).

    Both methods are scored on the same resampled test sets; the result is the share of replicates in
    which ``metric_fn(y_true, scores_a) > metric_fn(y_true, scores_b)``, ties counting one half. A value
    near 1 (or 0) means the ranking of A and B is stable under resampling of the test set; 0.5 means the
    test set cannot tell them apart. The metric must be "higher is better" (all of this module's are).

    Examples
    --------
    >>> import numpy as np
    >>> from pa100k.metrics import mean_accuracy
    >>> y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 5)
    >>> good = y * 0.8 + 0.1
    >>> bad = np.full(y.shape, 0.6)
    >>> paired_bootstrap(mean_accuracy, y, good, bad, n=100)
    1.0
    """
    n = _check_common(n, seed)
    yt = to_numpy(y_true, "y_true")
    sa = to_numpy(scores_a, "scores_a")
    sb = to_numpy(scores_b, "scores_b")
    for arr, name in ((sa, "scores_a"), (sb, "scores_b")):
        if arr.shape != yt.shape:
            raise ValueError(f"{name}: expected the shape of y_true {yt.shape}, found {arr.shape}")
    if yt.ndim == 0 or yt.shape[0] == 0:
        raise ValueError(f"y_true: expected a non-empty array with items along axis 0, found shape {yt.shape}")
    kw = {} if mask is None else {"mask": to_numpy(mask, "mask")}
    ra = _replicates(metric_fn, [yt, sa], kw, n, int(seed), groups)
    rb = _replicates(metric_fn, [yt, sb], kw, n, int(seed), groups)
    ok = np.isfinite(ra) & np.isfinite(rb)
    if not ok.any():
        return math.nan
    return float(np.mean((ra[ok] > rb[ok]) + 0.5 * (ra[ok] == rb[ok])))
