"""Scoring a validated submission against a benchmark's hidden labels, with ``pa100k.metrics``.

Attributes are scored under the ``li2016`` convention (the paper's, Li et al. 2016) with bootstrap 95%
intervals over images; the other conventions of ``pa100k.metrics`` are computed alongside. ReID is
scored with ``pa100k.metrics.reid_metrics`` under the benchmark's protocol (cosine distance between
features, or the submitted ranking), with bootstrap intervals over queries. Each part (public, private)
is scored on its own rows. Results are JSON-able dicts of fractions in [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np

import pa100k
from leaderboard.benchmark import AttributeLabels, Benchmark, ReIDLabels
from leaderboard.submission import AttributePredictions, Predictions, ReIDFeatures, ReIDRanking

SCORER_VERSION = "1"
PRIMARY_CONVENTION = "li2016"
ATTRIBUTE_METRICS = ("mA", "accuracy", "precision", "recall", "f1")
REID_RANKS = (1, 5, 10, 20)
PARTS = ("public", "private")


def scorer_id() -> str:
    """The scorer's identity stored with each score version (leaderboard scorer and pa100k versions)."""
    return f"leaderboard-scorer/{SCORER_VERSION} pa100k/{pa100k.__version__}"


def primary_convention():
    """``li2016`` with its undefined ratios set to 0 explicitly.

    ``li2016`` already counts an undefined ratio (an empty set) as 0 and warns; giving the value explicitly
    yields the same numbers without the warning, which matters because scoring runs in server threads and
    Python's warning filters cannot be changed safely from several threads.
    """
    from pa100k.metrics import get_convention

    return get_convention(PRIMARY_CONVENTION).using(name=PRIMARY_CONVENTION, sample_zero_division=0.0,
                                                    label_zero_division=0.0)


def other_conventions() -> list[str]:
    """Conventions of ``pa100k.metrics`` other than the primary one, shown alongside it."""
    from pa100k.metrics import list_conventions

    return [c for c in list_conventions() if c != PRIMARY_CONVENTION]


def score_attributes(benchmark: Benchmark, predictions: AttributePredictions, rows: np.ndarray, *,
                     bootstrap: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Metrics of ``predictions`` on benchmark rows ``rows`` (li2016 with 95% intervals, other conventions)."""
    from pa100k import metrics

    hidden = benchmark.hidden
    if not isinstance(hidden, AttributeLabels):
        raise TypeError(f"benchmark {benchmark.name!r} is a {benchmark.info.task} benchmark, not an attribute one")
    y_true = hidden.labels[rows]
    y_score = predictions.scores[rows]
    mask = hidden.mask[rows]
    score_type = predictions.score_type
    primary = primary_convention()
    main = metrics.attribute_metrics(y_true, y_score, mask=mask, convention=primary, score_type=score_type,
                                     schema=benchmark.info.schema)
    n_boot = benchmark.info.bootstrap if bootstrap is None else bootstrap
    ci: dict[str, dict[str, float | None]] = {}
    if n_boot > 0:
        for key, fn in zip(ATTRIBUTE_METRICS, (metrics.mean_accuracy, metrics.instance_accuracy,
                                               metrics.instance_precision, metrics.instance_recall,
                                               metrics.instance_f1)):
            res = metrics.bootstrap_ci(fn.using(convention=primary, score_type=score_type), y_true, y_score,
                                       mask=mask, n=n_boot, seed=seed)
            ci[key] = {"low": _num(res.low), "high": _num(res.high)}
    others = {}
    for conv in other_conventions():
        m = metrics.attribute_metrics(y_true, y_score, mask=mask, convention=conv, score_type=score_type)
        others[conv] = {k: _num(getattr(m, k)) for k in ATTRIBUTE_METRICS}
    return {
        "n": len(rows),
        "convention": PRIMARY_CONVENTION,
        "score_type": score_type,
        "metrics": {k: _num(getattr(main, k)) for k in ATTRIBUTE_METRICS},
        "ci": ci,
        "bootstrap": int(n_boot),
        "per_attribute": {
            "attribute": list(benchmark.info.attributes),
            "mA": [_num(v) for v in main.mA_j],
            "f1": [_num(v) for v in main.f1_j],
            "positive_recall": [_num(v) for v in main.positive_recall],
            "negative_recall": [_num(v) for v in main.negative_recall],
        },
        "conventions": others,
    }


def _ranking_distmat(ranking: np.ndarray, num_gallery: int) -> np.ndarray:
    """Distances that reproduce a top-K ranking: position k for ranked images, K for the rest.

    ``reid_metrics`` orders equal distances by gallery index, so unranked images follow the ranked ones in
    gallery order.
    """
    q, k = ranking.shape
    dist = np.full((q, num_gallery), float(k))
    dist[np.arange(q)[:, None], ranking] = np.arange(k, dtype=np.float64)[None, :]
    return dist


def score_reid(benchmark: Benchmark, predictions: ReIDFeatures | ReIDRanking, rows: np.ndarray, *,
               bootstrap: int | None = None, seed: int = 0) -> dict[str, Any]:
    """CMC ranks, mAP and mINP of the queries ``rows`` under the benchmark's protocol, with 95% intervals."""
    from pa100k import metrics

    hidden = benchmark.hidden
    if not isinstance(hidden, ReIDLabels):
        raise TypeError(f"benchmark {benchmark.name!r} is a {benchmark.info.task} benchmark, not a ReID one")
    info = benchmark.info
    if isinstance(predictions, ReIDFeatures):
        query, gallery = predictions.query_features[rows], predictions.gallery_features
        source = "features (cosine distance)"
    else:
        query, gallery = _ranking_distmat(predictions.ranking[rows], len(info.gallery_names)), None
        source = f"ranking (top {predictions.ranking.shape[1]})"
    res = metrics.reid_metrics(query, gallery, hidden.query_pids[rows], hidden.gallery_pids, hidden.query_camids[rows],
                               hidden.gallery_camids, metric="cosine", max_rank=max(REID_RANKS),
                               protocol=info.protocol, seed=seed)
    scores = {f"rank{r}": (_num(res.cmc[r - 1]) if len(res.cmc) >= r else None) for r in REID_RANKS}
    scores.update(mAP=_num(res.mAP), mINP=_num(res.mINP))
    n_boot = info.bootstrap if bootstrap is None else bootstrap
    ci: dict[str, dict[str, float | None]] = {}
    if n_boot > 0:
        for key, per_query in (("rank1", res.query_cmc[:, 0]), ("mAP", res.query_ap)):
            c = metrics.bootstrap_ci(metrics.sample_mean, per_query, n=n_boot, seed=seed)
            ci[key] = {"low": _num(c.low), "high": _num(c.high)}
    return {
        "n": len(rows),
        "protocol": info.protocol,
        "source": source,
        "metrics": scores,
        "ci": ci,
        "bootstrap": int(n_boot),
        "num_valid": int(res.num_valid),
        "num_skipped": int(res.num_skipped),
    }


def score(benchmark: Benchmark, predictions: Predictions, *, bootstrap: int | None = None,
          seed: int = 0) -> dict[str, dict[str, Any]]:
    """Score ``predictions`` on each part of the benchmark: ``{"public": {...}, "private": {...}}``."""
    fn = score_attributes if benchmark.info.task == "attributes" else score_reid
    return {part: fn(benchmark, predictions, benchmark.part_rows(part), bootstrap=bootstrap, seed=seed)
            for part in PARTS}


def _num(v: Any) -> float | None:
    """A float for JSON (NaN becomes None)."""
    f = float(v)
    return None if np.isnan(f) else f
