"""Scores → the numbers of a run: li2016 metrics with bootstrap intervals, other conventions alongside."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from pa100k.attribute_set import AttributeSet

SCALARS = ("mA", "accuracy", "precision", "recall", "f1")
OTHER_CONVENTIONS = ("rethinking", "deepmar", "openpar")


def evaluate_scores(
    data: AttributeSet, split: str, scores: np.ndarray, *, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Metrics of probabilities ``scores`` on ``split`` of ``data`` (fractions, not percent).

    The main block is the paper's ``li2016`` convention with bootstrap 95% intervals over images;
    the toolkits' conventions follow under ``conventions``.
    """
    from pa100k.metrics import (
        attribute_metrics,
        bootstrap_ci,
        instance_accuracy,
        instance_f1,
        instance_precision,
        instance_recall,
        mean_accuracy,
    )

    SCORES = {"mA": mean_accuracy, "accuracy": instance_accuracy, "precision": instance_precision,
              "recall": instance_recall, "f1": instance_f1}

    idx = data.split_indices(split)
    y_true = data.labels[idx]
    mask = None if data.mask is None else data.mask[idx]
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != y_true.shape:
        raise ValueError(f"scores for split {split!r} must have shape {y_true.shape}, found {scores.shape}")
    main = attribute_metrics(y_true, scores, mask=mask, convention="li2016", score_type="prob")
    out: dict[str, Any] = {name: float(getattr(main, name)) for name in SCALARS}
    ci: dict[str, list[float]] = {}
    for name in SCALARS:
        # AttributeScore objects bootstrap every replicate at once from resampling weights.
        with warnings.catch_warnings():  # undefined ratios in resamples: the main estimate already warned
            warnings.simplefilter("ignore")
            res = bootstrap_ci(SCORES[name], y_true, scores, mask=mask, n=n_bootstrap, seed=seed)
        ci[name] = [float(res.low), float(res.high)]
    out["ci95"] = ci
    out["n_bootstrap"] = n_bootstrap
    out["num_images"] = len(idx)
    out["conventions"] = {}
    for conv in OTHER_CONVENTIONS:
        m = attribute_metrics(y_true, scores, mask=mask, convention=conv, score_type="prob")
        out["conventions"][conv] = {name: _json_float(getattr(m, name)) for name in SCALARS}
    out["per_attribute"] = {
        "mA_j": [_json_float(v) for v in main.mA_j],
        "positive_recall": [_json_float(v) for v in main.positive_recall],
        "negative_recall": [_json_float(v) for v in main.negative_recall],
        "precision": [_json_float(v) for v in main.precision_j],
        "f1": [_json_float(v) for v in main.f1_j],
        "support_pos": [int(v) for v in main.support_pos],
        "support_neg": [int(v) for v in main.support_neg],
    }
    return out


def _json_float(v: float) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v
