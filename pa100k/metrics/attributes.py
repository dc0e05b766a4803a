"""Label-based (mA) and instance-based (accuracy, precision, recall, F1) attribute metrics, fully vectorised.

Definitions (Li et al. 2016, used by the HydraPlus-Net paper, section 6): for attribute j with P_j known
positives and N_j known negatives, ``mA_j = (TP_j / P_j + TN_j / N_j) / 2`` and ``mA`` is their mean; for
sample i with true positive set Y_i and predicted positive set Ŷ_i, accuracy ``|Y ∩ Ŷ| / |Y ∪ Ŷ|``,
precision ``|Y ∩ Ŷ| / |Ŷ|`` and recall ``|Y ∩ Ŷ| / |Y|`` are averaged over samples, and F1 is computed
from the averaged precision and recall. Where toolkits differ (threshold, empty sets, F1) the
:class:`~pa100k.metrics.conventions.ConventionConfig` decides.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pa100k.metrics.conventions import ConventionConfig, get_convention
from pa100k.metrics.validation import (
    binary_matrix,
    bool_mask,
    check_choice,
    check_matrix,
    check_numeric,
    check_same_shape,
    to_numpy,
)

SCORE_TYPES = ("prob", "logit", "label")
SCALAR_METRICS = ("mA", "accuracy", "precision", "recall", "f1")
_COLUMN_BLOCK = 256  # rows summed per block by _column_sums


class UndefinedMetricWarning(UserWarning):
    """A ratio had a zero denominator and was replaced by the convention's ``zero_division`` value."""


# ----------------------------------------------------------------------------------------------- results


def _json_float(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class AttributeMetrics:
    """Attribute-recognition metrics of one set of predictions; every value is a fraction in [0, 1].

    ``mA`` is the label-based mean accuracy; ``accuracy``, ``precision``, ``recall`` and ``f1`` are the
    instance-based metrics. Per-attribute arrays have one entry per label column: ``mA_j``,
    ``positive_recall`` (TP/P), ``negative_recall`` (TN/N), ``precision_j`` (TP/(TP+FP)), ``f1_j`` and the
    numbers of known positive and negative labels ``support_pos`` / ``support_neg``.
    """

    mA: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    mA_j: np.ndarray = field(repr=False)
    positive_recall: np.ndarray = field(repr=False)
    negative_recall: np.ndarray = field(repr=False)
    precision_j: np.ndarray = field(repr=False)
    f1_j: np.ndarray = field(repr=False)
    support_pos: np.ndarray = field(repr=False)
    support_neg: np.ndarray = field(repr=False)
    convention: str = "li2016"
    threshold: float = 0.5
    score_type: str = "prob"
    num_samples: int = 0
    num_instance_samples: int = 0
    attribute_names: tuple[str, ...] | None = field(default=None, repr=False)

    def _names(self, attribute_names: Sequence[str] | None) -> list[str]:
        names = attribute_names if attribute_names is not None else self.attribute_names
        if names is None:
            return [f"attr_{j}" for j in range(len(self.mA_j))]
        names = list(names)
        if len(names) != len(self.mA_j):
            raise ValueError(f"attribute_names: expected {len(self.mA_j)} names, found {len(names)}")
        return names

    def per_attribute_frame(self, attribute_names: Sequence[str] | None = None) -> Any:
        """Per-attribute metrics as a pandas DataFrame indexed by attribute name."""
        import pandas as pd

        names = self._names(attribute_names)
        return pd.DataFrame(
            {
                "mA": self.mA_j,
                "positive_recall": self.positive_recall,
                "negative_recall": self.negative_recall,
                "precision": self.precision_j,
                "f1": self.f1_j,
                "support_pos": self.support_pos,
                "support_neg": self.support_neg,
            },
            index=pd.Index(names, name="attribute"),
        )

    def to_dict(self) -> dict:
        """JSON-serialisable summary and per-attribute values (NaN written as None)."""
        names = self._names(None)
        per = {}
        for j, name in enumerate(names):
            per[name] = {
                "mA": _json_float(self.mA_j[j]),
                "positive_recall": _json_float(self.positive_recall[j]),
                "negative_recall": _json_float(self.negative_recall[j]),
                "precision": _json_float(self.precision_j[j]),
                "f1": _json_float(self.f1_j[j]),
                "support_pos": int(self.support_pos[j]),
                "support_neg": int(self.support_neg[j]),
            }
        return {
            "convention": self.convention,
            "threshold": self.threshold,
            "score_type": self.score_type,
            "num_samples": self.num_samples,
            "num_instance_samples": self.num_instance_samples,
            "mA": _json_float(self.mA),
            "accuracy": _json_float(self.accuracy),
            "precision": _json_float(self.precision),
            "recall": _json_float(self.recall),
            "f1": _json_float(self.f1),
            "per_attribute": per,
        }


# ------------------------------------------------------------------------------------------ fast tallies


def _column_sums(u: np.ndarray) -> np.ndarray:
    """Column sums of a uint8 0/1 matrix (int64); blocks of rows are summed as one wide row (fast)."""
    n, a = u.shape
    m = (n // _COLUMN_BLOCK) * _COLUMN_BLOCK
    out = np.zeros(a, dtype=np.int64)
    if m:
        wide = np.add.reduce(u[:m].reshape(-1, _COLUMN_BLOCK * a), axis=0, dtype=np.uint32)
        out += wide.reshape(_COLUMN_BLOCK, a).sum(axis=0, dtype=np.int64)
    if m < n:
        out += np.add.reduce(u[m:], axis=0, dtype=np.int64)
    return out


def _row_sums(u: np.ndarray) -> np.ndarray:
    """Row sums of a uint8 0/1 matrix (int64), through a transposed copy (short rows reduce slowly)."""
    dtype = np.uint8 if u.shape[1] < 256 else np.int64
    return np.add.reduce(np.ascontiguousarray(u.T), axis=0, dtype=dtype).astype(np.int64)


@dataclass
class _Tallies:
    """Label-level counts (per attribute) and per-sample set sizes."""

    tp: np.ndarray  # (A,) true positives
    pos: np.ndarray  # (A,) known positives
    pred: np.ndarray  # (A,) predicted positives among known labels
    known: np.ndarray  # (A,) known labels
    inter: np.ndarray  # (N,) |Y ∩ Ŷ|
    n_true: np.ndarray  # (N,) |Y|
    n_pred: np.ndarray  # (N,) |Ŷ|
    y: np.ndarray  # (N, A) bool, true positives (False where unknown)
    b: np.ndarray  # (N, A) bool, predicted positives (False where unknown)
    m: np.ndarray | None  # (N, A) bool mask or None


def _binarize(scores: np.ndarray, score_type: str, threshold: float, inclusive: bool) -> np.ndarray:
    """Scores → bool predictions; validates the value range of each score type."""
    if score_type == "label":
        return binary_matrix(scores, "y_score")
    if scores.dtype == bool:
        raise ValueError(f"y_score: boolean predictions need score_type='label', found score_type={score_type!r}")
    lo, hi = scores.min(), scores.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        bad = ~np.isfinite(scores)
        n_nan = int(np.isnan(scores).sum()) if np.issubdtype(scores.dtype, np.floating) else 0
        raise ValueError(
            f"y_score: expected finite scores, found {n_nan} NaN and {int(bad.sum()) - n_nan} infinite values"
        )
    if score_type == "prob":
        if lo < 0 or hi > 1:
            raise ValueError(
                f"y_score: probabilities must lie in [0, 1], found values in [{float(lo):.4g}, {float(hi):.4g}]"
                " (pass score_type='logit' for raw network outputs)"
            )
        t = float(threshold)
    else:  # logit: compare in logit space so that 0.5 is exactly logit 0
        with np.errstate(divide="ignore"):
            t = float(math.log(threshold) - math.log1p(-threshold)) if 0.0 < threshold < 1.0 else (
                -math.inf if threshold == 0.0 else math.inf
            )
    # a Python float compares in the scores' own dtype, as the toolkits' ``probs > 0.5`` does
    return scores >= t if inclusive else scores > t


def _prepare(
    y_true: Any, y_score: Any, mask: Any, score_type: str, threshold: float, inclusive: bool
) -> _Tallies:
    """Validate inputs and count TP / P / predicted / known per attribute and set sizes per sample."""
    check_choice(score_type, "score_type", SCORE_TYPES)
    yt = to_numpy(y_true, "y_true")
    check_numeric(yt, "y_true")
    check_matrix(yt, "y_true")
    ys = to_numpy(y_score, "y_score")
    check_numeric(ys, "y_score")
    check_same_shape(ys, "y_score", yt.shape, "y_true")
    m = None if mask is None else bool_mask(mask, yt.shape, "y_true")
    y = binary_matrix(yt, "y_true", m)
    b = _binarize(ys, score_type, threshold, inclusive)
    if m is not None:
        b = b & m
    tpm = y & b
    yu, bu, tu = y.view(np.uint8), b.view(np.uint8), tpm.view(np.uint8)
    known = np.full(yt.shape[1], yt.shape[0], dtype=np.int64) if m is None else _column_sums(m.view(np.uint8))
    return _Tallies(
        tp=_column_sums(tu),
        pos=_column_sums(yu),
        pred=_column_sums(bu),
        known=known,
        inter=_row_sums(tu),
        n_true=_row_sums(yu),
        n_pred=_row_sums(bu),
        y=y,
        b=b,
        m=m,
    )


# ------------------------------------------------------------------------------------------- arithmetic


class _Divider:
    """Guarded division with the convention's eps and zero_division; collects what was undefined."""

    def __init__(self, eps: float) -> None:
        self.eps = eps
        self.undefined: list[str] = []

    def __call__(self, num: np.ndarray, den: np.ndarray, zero_division: Any, what: str) -> np.ndarray:
        num = np.asarray(num, dtype=np.float64)
        den = np.asarray(den, dtype=np.float64)
        if self.eps:
            den = den + self.eps
        zero = den == 0
        if not zero.any():
            return num / den
        if zero_division == "warn":
            self.undefined.append(f"{what} ({int(zero.sum())} zero denominators)")
            value = 0.0
        else:
            value = float(zero_division)
        out = np.divide(num, den, out=np.full(np.broadcast(num, den).shape, value), where=~zero)
        return out

    def warn(self, convention: str) -> None:
        if self.undefined:
            warnings.warn(
                f"convention {convention!r}: undefined ratios set to 0.0: " + "; ".join(self.undefined)
                + ". Pass a ConventionConfig with sample_zero_division / label_zero_division to choose the value.",
                UndefinedMetricWarning,
                stacklevel=3,
            )


def _sample_ratios(t: _Tallies, cfg: ConventionConfig, div: _Divider) -> dict[str, Any]:
    """Per-sample accuracy, precision, recall (and F1 for ``f1="per_sample"``) and the included samples."""
    include = t.n_true > 0 if cfg.exclude_empty_true else None
    szd = cfg.sample_zero_division
    inter = t.inter.astype(np.float64)
    n_true = t.n_true.astype(np.float64)
    n_pred = t.n_pred.astype(np.float64)
    union = n_true + n_pred - inter
    if include is not None:  # excluded samples get 0/1 ratios (never undefined, never averaged)
        n_true, n_pred, union = (np.where(include, x, 1.0) for x in (n_true, n_pred, union))
        inter = np.where(include, inter, 0.0)
    r: dict[str, Any] = {"include": include}
    r["accuracy"] = div(inter, union, szd, "accuracy of a sample with |Y ∪ Ŷ| = 0")
    r["precision"] = div(inter, n_pred, szd, "precision of a sample with |Ŷ| = 0")
    r["recall"] = div(inter, n_true, szd, "recall of a sample with |Y| = 0")
    if cfg.f1 == "per_sample":
        p, q = r["precision"], r["recall"]
        r["f1"] = div(2 * p * q, p + q, szd, "F1 of a sample with precision + recall = 0")
    return r


def _compute(t: _Tallies, cfg: ConventionConfig, weights: np.ndarray | None, div: _Divider) -> dict:
    """All metrics from tallies; with ``weights`` (R, N) each value gains a leading replicate axis."""
    lzd = cfg.label_zero_division
    ratios = _sample_ratios(t, cfg, div)
    include = ratios["include"]
    averaged = [k for k in ("accuracy", "precision", "recall", "f1") if k in ratios]
    num_a = t.y.shape[1]
    if weights is None:
        tp, pos, pred, known = (x.astype(np.float64) for x in (t.tp, t.pos, t.pred, t.known))
        means = {}
        for k in averaged:
            v = ratios[k] if include is None else ratios[k][include]
            means[k] = np.float64(np.mean(v)) if v.size else div(0.0, 0.0, lzd, f"instance {k} over no samples")
    else:
        # one matrix product gives every weighted count: label indicators and per-sample ratios
        inc = np.ones(t.y.shape[0]) if include is None else include.astype(np.float64)
        cols = [t.y, t.b, t.y & t.b] + ([t.m] if t.m is not None else [])
        design = np.empty((t.y.shape[0], len(cols) * num_a + len(averaged) + 1))
        for c, x in enumerate(cols):
            design[:, c * num_a : (c + 1) * num_a] = x
        base = len(cols) * num_a
        for c, k in enumerate(averaged):
            design[:, base + c] = np.where(inc > 0, ratios[k], 0.0)
        design[:, -1] = inc
        sums = weights @ design
        pos, pred, tp = (sums[:, c * num_a : (c + 1) * num_a] for c in range(3))
        if t.m is not None:
            known = sums[:, 3 * num_a : 4 * num_a]
        else:
            known = np.broadcast_to(weights.sum(axis=1, keepdims=True), pos.shape)
        means = {k: div(sums[:, base + c], sums[:, -1], lzd, f"instance {k} over no samples")
                 for c, k in enumerate(averaged)}
    fp = pred - tp
    neg = known - pos
    tn = neg - fp
    out: dict[str, Any] = {}
    out["positive_recall"] = div(tp, pos, lzd, "positive recall TP/P of an attribute without known positives")
    out["negative_recall"] = div(tn, neg, lzd, "negative recall TN/N of an attribute without known negatives")
    out["mA_j"] = (out["positive_recall"] + out["negative_recall"]) / 2
    out["precision_j"] = div(tp, tp + fp, lzd, "precision of an attribute never predicted positive")
    out["f1_j"] = div(
        2 * out["precision_j"] * out["positive_recall"], out["precision_j"] + out["positive_recall"], lzd,
        "F1 of an attribute with precision + recall = 0",
    )
    out["mA"] = np.mean(out["mA_j"], axis=-1)
    out["support_pos"], out["support_neg"] = pos, neg
    out.update(means)
    if cfg.f1 == "from_means":
        p, r = out["precision"], out["recall"]
        out["f1"] = div(2 * p * r, p + r, lzd, "F1 of averaged precision + recall = 0")
    out["num_instance_samples"] = int(t.y.shape[0] if include is None else include.sum())
    return out


def _resolve(convention: Any, threshold: float | None) -> ConventionConfig:
    cfg = get_convention(convention)
    if threshold is not None:
        try:
            t = float(threshold)
        except (TypeError, ValueError):
            raise ValueError(f"threshold: expected a number in [0, 1] or None, found {threshold!r}") from None
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"threshold: expected a number in [0, 1] (probability scale) or None, found {threshold!r}")
        if t != cfg.threshold:
            cfg = replace(cfg, threshold=t)
    return cfg


def _schema_names(schema: Any, num_attributes: int) -> tuple[str, ...] | None:
    if schema is None:
        return None
    if isinstance(schema, str):
        from pa100k.schemas import get_schema

        schema = get_schema(schema)
    attrs = getattr(schema, "attributes", None)
    if attrs is None:
        raise ValueError(f"schema: expected an AttributeSchema or a schema name, found {schema!r}")
    if len(attrs) != num_attributes:
        raise ValueError(
            f"schema: {getattr(schema, 'name', 'schema')!r} has {len(attrs)} attributes, "
            f"but y_true has {num_attributes} columns"
        )
    return tuple(attrs)


# ------------------------------------------------------------------------------------------- public API


def attribute_metrics(
    y_true: Any,
    y_score: Any,
    *,
    mask: Any = None,
    threshold: float | None = None,
    convention: str | ConventionConfig = "li2016",
    score_type: str = "prob",
    schema: Any = None,
) -> AttributeMetrics:
    """Label-based mA and instance-based accuracy, precision, recall and F1 (Li et al. 2016).

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_attributes)
        Ground truth in {0, 1} (bool or numeric). Entries where ``mask`` is False may hold anything
        (e.g. RAP's 2 for "uncertain").
    y_score : array-like of the same shape
        Probabilities (``score_type="prob"``), raw logits (``"logit"``) or 0/1 predictions (``"label"``).
    mask : array-like of bool of the same shape, optional
        False marks an unknown label: it is left out of every count (TP, P, N, |Y|, |Ŷ|, ...).
    threshold : float, optional
        Decision threshold on the probability scale; None uses the convention's (0.5, or 0.45 for
        ``"openpar"``). Logits are compared with ``log(t / (1 - t))``.
    convention : str or ConventionConfig, default "li2016"
        ``"li2016"``, ``"rethinking"``, ``"deepmar"``, ``"openpar"`` (see :func:`list_conventions`) or a
        :class:`ConventionConfig` of one's own.
    score_type : {"prob", "logit", "label"}, default "prob"
    schema : AttributeSchema or str, optional
        Names the columns (and checks their number) for :meth:`AttributeMetrics.per_attribute_frame`.

    Returns
    -------
    AttributeMetrics
        Fractions in [0, 1] (multiply by 100 for the paper's tables).

    Notes
    -----
    With TP_j, FP_j, TN_j, FN_j counted over known labels of attribute j, and per sample i the sets
    Y_i (true positives) and Ŷ_i (predicted positives) over known labels:

    - ``mA = mean_j (TP_j / (TP_j + FN_j) + TN_j / (TN_j + FP_j)) / 2``
    - ``accuracy = mean_i |Y_i ∩ Ŷ_i| / |Y_i ∪ Ŷ_i|``, ``precision = mean_i |Y_i ∩ Ŷ_i| / |Ŷ_i|``,
      ``recall = mean_i |Y_i ∩ Ŷ_i| / |Y_i|``, ``f1 = 2 · precision · recall / (precision + recall)``

    Undefined ratios follow the convention: ``li2016`` counts them as 0 and warns
    (:class:`UndefinedMetricWarning`), ``rethinking``/``openpar`` add eps = 1e-20 to every denominator
    (same numbers, no warning), ``deepmar`` drops samples with ``|Y| = 0``, gives an empty prediction
    precision 0 and NaN to an attribute without positives or negatives (and therefore to mA).

    References
    ----------
    D. Li et al., "A Richly Annotated Dataset for Pedestrian Attribute Recognition", arXiv:1603.07054.
    X. Liu et al., "HydraPlus-Net: Attentive Deep Features for Pedestrian Analysis", ICCV 2017.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1, 0], [0, 1], [1, 1]])
    >>> p = np.array([[0.9, 0.2], [0.4, 0.6], [0.7, 0.1]])
    >>> m = attribute_metrics(y, p)
    >>> round(m.mA, 4), round(m.accuracy, 4), round(m.precision, 4), round(m.recall, 4)
    (0.875, 0.8333, 1.0, 0.8333)
    """
    cfg = _resolve(convention, threshold)
    tallies = _prepare(y_true, y_score, mask, score_type, cfg.threshold, cfg.inclusive)
    names = _schema_names(schema, tallies.y.shape[1])
    div = _Divider(cfg.eps)
    out = _compute(tallies, cfg, None, div)
    div.warn(cfg.name)
    return AttributeMetrics(
        mA=float(out["mA"]),
        accuracy=float(out["accuracy"]),
        precision=float(out["precision"]),
        recall=float(out["recall"]),
        f1=float(out["f1"]),
        mA_j=out["mA_j"],
        positive_recall=out["positive_recall"],
        negative_recall=out["negative_recall"],
        precision_j=out["precision_j"],
        f1_j=out["f1_j"],
        support_pos=tallies.pos.copy(),
        support_neg=tallies.known - tallies.pos,
        convention=cfg.name,
        threshold=cfg.threshold,
        score_type=score_type,
        num_samples=int(tallies.y.shape[0]),
        num_instance_samples=out["num_instance_samples"],
        attribute_names=names,
    )


def weighted_attribute_metrics(
    y_true: Any,
    y_score: Any,
    weights: Any,
    *,
    mask: Any = None,
    threshold: float | None = None,
    convention: str | ConventionConfig = "li2016",
    score_type: str = "prob",
) -> dict[str, np.ndarray]:
    """The scalar metrics under R sample weightings at once (bootstrap replicates), as arrays of shape (R,).

    ``weights`` is (R, n_samples) (or (n_samples,)), e.g. how often each sample was drawn. Every count
    becomes a weighted sum computed with one matrix product, so 1000 replicates cost a few products.
    With all weights 1 the values equal :func:`attribute_metrics`.
    """
    cfg = _resolve(convention, threshold)
    tallies = _prepare(y_true, y_score, mask, score_type, cfg.threshold, cfg.inclusive)
    w = np.asarray(to_numpy(weights, "weights"), dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != tallies.y.shape[0]:
        raise ValueError(f"weights: expected shape (R, {tallies.y.shape[0]}), found {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights: expected finite non-negative values")
    div = _Divider(cfg.eps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = _compute(tallies, cfg, w, div)
    return {k: np.asarray(out[k], dtype=np.float64).reshape(w.shape[0]) for k in SCALAR_METRICS}


@dataclass(frozen=True)
class AttributeScore:
    """One scalar attribute metric as a callable ``score(y_true, y_score, mask=None) -> float``.

    It also has ``.weighted(y_true, y_score, weights, mask=None)``, which :func:`bootstrap_ci` and
    :func:`paired_bootstrap` use to evaluate all replicates at once. Change the options with
    :meth:`using`, e.g. ``mean_accuracy.using(convention="rethinking", score_type="logit")``.
    """

    metric: str
    convention: str | ConventionConfig = "li2016"
    threshold: float | None = None
    score_type: str = "prob"

    def __post_init__(self) -> None:
        check_choice(self.metric, "metric", SCALAR_METRICS)
        check_choice(self.score_type, "score_type", SCORE_TYPES)
        get_convention(self.convention)

    def __call__(self, y_true: Any, y_score: Any, mask: Any = None) -> float:
        """The metric on one test set."""
        m = attribute_metrics(
            y_true, y_score, mask=mask, threshold=self.threshold, convention=self.convention,
            score_type=self.score_type,
        )
        return float(getattr(m, self.metric))

    def weighted(self, y_true: Any, y_score: Any, weights: Any, mask: Any = None) -> np.ndarray:
        """The metric under each row of ``weights`` (R, n_samples), as an array of shape (R,)."""
        return weighted_attribute_metrics(
            y_true, y_score, weights, mask=mask, threshold=self.threshold, convention=self.convention,
            score_type=self.score_type,
        )[self.metric]

    def using(self, **changes: Any) -> AttributeScore:
        """A copy with other options (convention, threshold, score_type or metric)."""
        return replace(self, **changes)


mean_accuracy = AttributeScore("mA")
instance_accuracy = AttributeScore("accuracy")
instance_precision = AttributeScore("precision")
instance_recall = AttributeScore("recall")
instance_f1 = AttributeScore("f1")
