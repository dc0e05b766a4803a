"""Scoring a validated submission against a benchmark's hidden labels, with ``pa100k.metrics``.

Attributes are scored under the ``li2016`` convention (the paper's, Li et al. 2016) with bootstrap 95%
intervals over images; the other conventions of ``pa100k.metrics`` are computed alongside. ReID is
scored with ``pa100k.metrics.reid_metrics`` under the benchmark's protocol (cosine distance between
features, or the submitted ranking), with bootstrap intervals over queries. Each part (public, private)
is scored on its own rows. Results are JSON-able dicts of fractions in [0, 1].
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

import pa100k
from leaderboard.benchmark import AttributeLabels, Benchmark, ReIDLabels
from leaderboard.submission import AttributePredictions, Predictions, ReIDFeatures, ReIDRanking

log = logging.getLogger(__name__)

SCORER_VERSION = "1"
PRIMARY_CONVENTION = "li2016"
ATTRIBUTE_METRICS = ("mA", "accuracy", "precision", "recall", "f1")
REID_RANKS = (1, 5, 10, 20)
REID_METRICS = ("rank1", "rank5", "rank10", "rank20", "mAP", "mINP")
PARTS = ("public", "private")


def scorer_id() -> str:
    """The scorer's identity stored with each score version (leaderboard scorer and pa100k versions)."""
    return f"leaderboard-scorer/{SCORER_VERSION} pa100k/{pa100k.__version__}"


def other_conventions() -> list[str]:
    """Conventions of ``pa100k.metrics`` other than the primary one, shown alongside it."""
    from pa100k import metrics

    return [c for c in metrics.CONVENTIONS.names() if c != PRIMARY_CONVENTION]


def score_attributes(benchmark: Benchmark, predictions: AttributePredictions, rows: np.ndarray, *,
                     bootstrap: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Metrics of ``predictions`` on benchmark rows ``rows`` (li2016 with 95% intervals, other conventions)."""
    from pa100k.metrics import attribute_metrics

    hidden = benchmark.hidden
    if not isinstance(hidden, AttributeLabels):
        raise ValueError(f"benchmark {benchmark.name!r} is a {benchmark.info.task} benchmark, not an attribute one")
    y_true = hidden.labels[rows]
    y_score = predictions.scores[rows]
    mask = hidden.mask[rows]
    kw = dict(score_type=predictions.score_type, schema=benchmark.info.schema)
    main = attribute_metrics(y_true, y_score, mask=mask, convention=PRIMARY_CONVENTION, **kw)
    n_boot = benchmark.info.bootstrap if bootstrap is None else bootstrap
    ci: dict[str, dict[str, float]] = {}
    if n_boot > 0:
        from pa100k.metrics import bootstrap_ci

        for key in ATTRIBUTE_METRICS:
            def metric(t, s, m, _key=key):
                return getattr(attribute_metrics(t, s, mask=m, convention=PRIMARY_CONVENTION, **kw), _key)

            res = bootstrap_ci(metric, y_true, y_score, mask, n=n_boot, seed=seed)
            ci[key] = {"low": float(res.low), "high": float(res.high)}
    others = {}
    for conv in other_conventions():
        m = attribute_metrics(y_true, y_score, mask=mask, convention=conv, **kw)
        others[conv] = {k: _num(getattr(m, k)) for k in ATTRIBUTE_METRICS}
    return {
        "n": int(len(rows)),
        "convention": PRIMARY_CONVENTION,
        "score_type": predictions.score_type,
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
    """Distances that reproduce a top-K ranking: position k for ranked images, K + gallery order for the rest."""
    q, k = ranking.shape
    dist = np.tile(k + np.arange(num_gallery, dtype=np.float64) / max(num_gallery, 1), (q, 1))
    dist[np.arange(q)[:, None], ranking] = np.arange(k, dtype=np.float64)[None, :]
    return dist


def score_reid(benchmark: Benchmark, predictions: ReIDFeatures | ReIDRanking, rows: np.ndarray, *,
               bootstrap: int | None = None, seed: int = 0) -> dict[str, Any]:
    """CMC ranks, mAP and mINP of the queries ``rows`` under the benchmark's protocol, with 95% intervals."""
    from pa100k.metrics import reid_metrics

    hidden = benchmark.hidden
    if not isinstance(hidden, ReIDLabels):
        raise ValueError(f"benchmark {benchmark.name!r} is a {benchmark.info.task} benchmark, not a ReID one")
    info = benchmark.info
    if isinstance(predictions, ReIDFeatures):
        query, gallery = predictions.query_features[rows], predictions.gallery_features
        source = "features (cosine distance)"
    else:
        query, gallery = _ranking_distmat(predictions.ranking[rows], len(info.gallery_names)), None
        source = f"ranking (top {info.ranking_depth})"
    q_pids, q_cams = hidden.query_pids[rows], hidden.query_camids[rows]

    def run(qf: np.ndarray, qp: np.ndarray, qc: np.ndarray):
        return reid_metrics(qf, gallery, qp, hidden.gallery_pids, qc, hidden.gallery_camids, metric="cosine",
                            max_rank=max(REID_RANKS), protocol=info.protocol, seed=seed)

    res = run(query, q_pids, q_cams)
    metrics = {f"rank{r}": _num(res.cmc[r - 1]) if len(res.cmc) >= r else None for r in REID_RANKS}
    metrics.update(mAP=_num(res.mAP), mINP=_num(res.mINP))
    n_boot = info.bootstrap if bootstrap is None else bootstrap
    ci: dict[str, dict[str, float]] = {}
    if n_boot > 0:
        from pa100k.metrics import bootstrap_ci

        for key, get in (("rank1", lambda m: m.cmc[0]), ("mAP", lambda m: m.mAP)):
            c = bootstrap_ci(lambda qf, qp, qc, _get=get: _get(run(qf, qp, qc)), query, q_pids, q_cams, n=n_boot, seed=seed)
            ci[key] = {"low": float(c.low), "high": float(c.high)}
    return {
        "n": int(len(rows)),
        "protocol": info.protocol,
        "source": source,
        "metrics": metrics,
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
