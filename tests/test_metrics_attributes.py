"""Attribute metrics: hand-computed values for every convention, a slow reference, validation."""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction as F

import numpy as np
import pytest
import torch

from pa100k.metrics import (
    AttributeMetrics,
    ConventionConfig,
    UndefinedMetricWarning,
    attribute_metrics,
    get_convention,
    instance_f1,
    list_conventions,
    mean_accuracy,
    weighted_attribute_metrics,
)
from pa100k.schemas import get_schema

# 6 samples x 3 attributes. s2 and s5 have no positive label, s3 / s4 get no predicted positive under
# threshold 0.5, attribute 2 has no positive at all; s2 has a score of exactly 0.5 (DeepMAR's >= counts it)
# and s4 one of 0.48 (OpenPAR's > 0.45 counts it).
Y = np.array(
    [
        [1, 0, 0],
        [1, 1, 0],
        [0, 0, 0],
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 0],
    ],
    dtype=np.uint8,
)
P = np.array(
    [
        [0.9, 0.6, 0.1],
        [0.6, 0.3, 0.7],
        [0.5, 0.8, 0.1],
        [0.1, 0.4, 0.3],
        [0.48, 0.1, 0.2],
        [0.1, 0.1, 0.1],
    ]
)

NAN = float("nan")
# Worked out by hand (see the comments for each convention).
EXPECTED = {
    # predictions (> 0.5): s0 {0,1}, s1 {0,2}, s2 {1}, s3 {}, s4 {}, s5 {}
    # attr0: TP2 FN1 FP0 TN3; attr1: TP0 FN2 FP2 TN2; attr2: P=0, FP1 TN5 (TP/P undefined -> 0)
    # samples: acc 1/2, 1/3, 0, 0, 0, 0 (s5: 0/0 -> 0); prec 1/2, 1/2, 0, 0/0, 0/0, 0/0; rec 1, 1/2, 0/0, 0, 0, 0/0
    "li2016": {
        "mA": F(1, 2), "accuracy": F(5, 36), "precision": F(1, 6), "recall": F(1, 4), "f1": F(1, 5),
        "mA_j": [F(5, 6), F(1, 4), F(5, 12)], "positive_recall": [F(2, 3), 0, 0],
        "negative_recall": [1, F(1, 2), F(5, 6)],
        "precision_j": [1, 0, 0], "f1_j": [F(4, 5), 0, 0], "num_instance_samples": 6,
    },
    # DeepMAR: >= 0.5 adds attribute 0 to s2; s2 and s5 (|Y| = 0) are dropped; empty predictions have
    # precision 0; attribute 2 (no positives) is NaN, so mA is NaN.
    # attr0: TP2 FN1 FP1 TN2. samples s0, s1, s3, s4: acc 1/2, 1/3, 0, 0; prec 1/2, 1/2, 0, 0; rec 1, 1/2, 0, 0
    "deepmar": {
        "mA": NAN, "accuracy": F(5, 24), "precision": F(1, 4), "recall": F(3, 8), "f1": F(3, 10),
        "mA_j": [F(2, 3), F(1, 4), NAN], "positive_recall": [F(2, 3), 0, NAN],
        "negative_recall": [F(2, 3), F(1, 2), F(5, 6)],
        "precision_j": [F(2, 3), 0, 0], "f1_j": [F(2, 3), NAN, NAN], "num_instance_samples": 4,
    },
    # OpenPAR: > 0.45 adds attribute 0 to s2 and s4; F1 is the mean of per-sample F1 (2/3, 1/2, 0, 0, 1, 0).
    # attr0: TP3 FN0 FP1 TN2. samples: acc 1/2, 1/3, 0, 0, 1, 0; prec 1/2, 1/2, 0, 0, 1, 0; rec 1, 1/2, 0, 0, 1, 0
    "openpar": {
        "mA": F(1, 2), "accuracy": F(11, 36), "precision": F(1, 3), "recall": F(5, 12), "f1": F(13, 36),
        "mA_j": [F(5, 6), F(1, 4), F(5, 12)], "positive_recall": [1, 0, 0],
        "negative_recall": [F(2, 3), F(1, 2), F(5, 6)],
        "precision_j": [F(3, 4), 0, 0], "f1_j": [F(6, 7), 0, 0], "num_instance_samples": 6,
    },
}
# Rethinking_of_PAR: eps = 1e-20 in every denominator gives the li2016 numbers here, without warnings.
EXPECTED["rethinking"] = EXPECTED["li2016"]


def _close(actual, expected) -> bool:
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray([float(e) for e in np.atleast_1d(expected)], dtype=float).reshape(actual.shape)
    return bool(np.allclose(actual, expected, rtol=1e-12, atol=1e-15, equal_nan=True))


@pytest.mark.parametrize("convention", ["li2016", "rethinking", "deepmar", "openpar"])
def test_attribute_metrics_matches_hand_computed_example(convention):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        m = attribute_metrics(Y, P, convention=convention)
    exp = EXPECTED[convention]
    for key, value in exp.items():
        if key == "num_instance_samples":
            assert m.num_instance_samples == value
        else:
            assert _close(getattr(m, key), value), (convention, key, getattr(m, key), value)
    assert m.support_pos.tolist() == [3, 2, 0]
    assert m.support_neg.tolist() == [3, 4, 6]
    assert m.convention == convention


@pytest.mark.parametrize("convention", ["li2016", "rethinking", "deepmar", "openpar"])
def test_attribute_metrics_logits_and_labels_give_the_same_numbers(convention):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        ref = attribute_metrics(Y, P, convention=convention)
        logits = np.log(P / (1 - P))  # 0.5 -> exactly 0.0
        from_logits = attribute_metrics(Y, logits, convention=convention, score_type="logit")
        cfg = get_convention(convention)
        labels = (P >= cfg.threshold) if cfg.inclusive else (P > cfg.threshold)
        from_labels = attribute_metrics(Y, labels.astype(np.int64), convention=convention, score_type="label")
    for other in (from_logits, from_labels):
        for key in ("mA", "accuracy", "precision", "recall", "f1"):
            assert _close(getattr(other, key), getattr(ref, key))
        assert _close(other.mA_j, ref.mA_j)


def test_attribute_metrics_li2016_warns_about_undefined_ratios_and_rethinking_does_not():
    with pytest.warns(UndefinedMetricWarning, match="attribute without known positives"):
        attribute_metrics(Y, P, convention="li2016")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attribute_metrics(Y, P, convention="rethinking")
        attribute_metrics(Y, P, convention="openpar")


def test_attribute_metrics_deepmar_nan_for_attribute_without_negatives():
    y = np.array([[1, 0], [1, 1], [1, 0]])
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]])
    m = attribute_metrics(y, p, convention="deepmar")
    assert math.isnan(m.negative_recall[0]) and math.isnan(m.mA_j[0]) and math.isnan(m.mA)
    assert m.mA_j[1] == pytest.approx(0.75)  # TP 1/1, TN 1/2


def test_attribute_metrics_deepmar_without_any_positive_sample_gives_nan_instance_metrics():
    y = np.zeros((3, 2), dtype=np.uint8)
    p = np.array([[0.9, 0.1], [0.2, 0.3], [0.6, 0.7]])
    m = attribute_metrics(y, p, convention="deepmar")
    assert m.num_instance_samples == 0
    assert all(math.isnan(v) for v in (m.accuracy, m.precision, m.recall, m.f1))
    r = attribute_metrics(y, p, convention="rethinking")  # eps: every sample averaged, all ratios 0
    assert (r.accuracy, r.precision, r.recall, r.f1, r.mA) == (0.0, 0.0, 0.0, 0.0, 0.25)


def test_attribute_metrics_threshold_overrides_the_convention_default():
    m = attribute_metrics(Y, P, convention="rethinking", threshold=0.45)
    assert m.threshold == 0.45
    assert _close(m.positive_recall, EXPECTED["openpar"]["positive_recall"])
    # mA is the same as openpar's (same predictions); F1 is from means (not openpar's per-sample mean)
    assert m.f1 == pytest.approx(2 * (1 / 3) * (5 / 12) / (1 / 3 + 5 / 12), rel=1e-12)


def test_attribute_metrics_mask_excludes_unknown_labels_from_every_count():
    # RAP-style: 2 = uncertain. Hand example: attribute 0 known for s0, s1, s3 only.
    y = np.array([[1, 0], [0, 1], [2, 1], [1, 2]])
    p = np.array([[0.9, 0.2], [0.8, 0.7], [0.9, 0.1], [0.1, 0.9]])
    mask = y != 2
    m = attribute_metrics(y, p, mask=mask)
    # attr0 known s0,s1,s3: y 1,0,1 pred 1,1,0 -> TP1 FN1 FP1 TN0; attr1 known s0,s1,s2: y 0,1,1 pred 0,1,0
    assert m.support_pos.tolist() == [2, 2] and m.support_neg.tolist() == [1, 1]
    assert _close(m.mA_j, [F(1, 4), F(3, 4)])
    # samples over known labels: s0 Y{0} Ŷ{0}; s1 Y{1} Ŷ{0,1}; s2 Y{1} Ŷ{}; s3 Y{0} Ŷ{}
    assert _close([m.accuracy, m.precision, m.recall], [F(3, 8), F(3, 8), F(1, 2)])
    # the values under the mask do not matter
    y2, p2 = y.copy(), p.copy()
    y2[~mask] = 7
    p2[~mask] = 1 - p2[~mask]
    m2 = attribute_metrics(y2, p2, mask=mask)
    assert m2.to_dict() == m.to_dict()


def test_attribute_metrics_unknown_label_without_mask_is_rejected():
    y = np.array([[1, 2], [0, 1]])
    with pytest.raises(ValueError, match=r"y_true: expected values in \{0, 1\}, found 2 .*mask"):
        attribute_metrics(y, np.full(y.shape, 0.5))


# --------------------------------------------------------------------------- slow reference on random inputs


def _reference(y, p, mask, cfg: ConventionConfig, score_type="prob"):
    """Element-by-element loops with exact fractions: the definitions, written out plainly."""
    n, a = y.shape
    if score_type == "logit":
        t = math.log(cfg.threshold / (1 - cfg.threshold))
    else:
        t = cfg.threshold

    def predicted(s):
        return s >= t if cfg.inclusive else s > t

    def ratio(num, den, zero):
        den = den + cfg.eps if cfg.eps else den
        if den == 0:
            return float("nan") if isinstance(zero, float) and math.isnan(zero) else (0.0 if zero == "warn" else zero)
        return num / den

    pos_rec, neg_rec, prec_j = [], [], []
    for j in range(a):
        tp = fp = tn = fn = 0
        for i in range(n):
            if mask is not None and not mask[i, j]:
                continue
            yt, yp = y[i, j] == 1, predicted(p[i, j])
            tp += yt and yp
            fn += yt and not yp
            fp += (not yt) and yp
            tn += (not yt) and not yp
        pos_rec.append(ratio(tp, tp + fn, cfg.label_zero_division))
        neg_rec.append(ratio(tn, tn + fp, cfg.label_zero_division))
        prec_j.append(ratio(tp, tp + fp, cfg.label_zero_division))
    mA_j = [(u + v) / 2 for u, v in zip(pos_rec, neg_rec)]
    accs, precs, recs, f1s = [], [], [], []
    for i in range(n):
        true_set = {j for j in range(a) if (mask is None or mask[i, j]) and y[i, j] == 1}
        pred_set = {j for j in range(a) if (mask is None or mask[i, j]) and predicted(p[i, j])}
        if cfg.exclude_empty_true and not true_set:
            continue
        inter, union = len(true_set & pred_set), len(true_set | pred_set)
        accs.append(ratio(inter, union, cfg.sample_zero_division))
        precs.append(ratio(inter, len(pred_set), cfg.sample_zero_division))
        recs.append(ratio(inter, len(true_set), cfg.sample_zero_division))
        f1s.append(ratio(2 * precs[-1] * recs[-1], precs[-1] + recs[-1], cfg.sample_zero_division))
    mean = (lambda v: sum(v) / len(v)) if accs else (lambda v: float("nan"))
    pm, rm = mean(precs), mean(recs)
    f1 = mean(f1s) if cfg.f1 == "per_sample" else ratio(2 * pm * rm, pm + rm, cfg.label_zero_division)
    return {"mA": sum(mA_j) / a, "mA_j": mA_j, "accuracy": mean(accs), "precision": pm, "recall": rm, "f1": f1,
                "positive_recall": pos_rec, "negative_recall": neg_rec, "precision_j": prec_j}


@pytest.mark.parametrize("convention", ["li2016", "rethinking", "deepmar", "openpar"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_attribute_metrics_equal_slow_reference_on_random_inputs(convention, seed):
    rng = np.random.default_rng(seed)
    n, a = 40, 7
    y = (rng.random((n, a)) < 0.3).astype(np.int64)
    y[0] = 0  # a sample without positives
    y[:, 1] = 0  # an attribute without positives
    p = np.round(rng.random((n, a)), 2)  # ties with the thresholds happen
    p[1] = 0.0  # a sample without predictions
    mask = rng.random((n, a)) > 0.1 if seed == 2 else None
    cfg = get_convention(convention)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        m = attribute_metrics(y, p, mask=mask, convention=convention)
    ref = _reference(y, p, mask, cfg)
    for key, value in ref.items():
        assert _close(getattr(m, key), value), (key, getattr(m, key), value)


def test_attribute_metrics_custom_convention_parameters_follow_reference():
    cfg = ConventionConfig(threshold=0.3, inclusive=True, sample_zero_division=1.0, label_zero_division=1.0,
                           exclude_empty_true=False, f1="per_sample")
    rng = np.random.default_rng(5)
    y = (rng.random((30, 5)) < 0.3).astype(np.int64)
    y[:3] = 0
    p = np.round(rng.random((30, 5)), 1)
    p[3] = 0.0
    m = attribute_metrics(y, p, convention=cfg)
    ref = _reference(y, p, None, cfg)
    for key, value in ref.items():
        assert _close(getattr(m, key), value), key
    assert m.convention == "custom"


# --------------------------------------------------------------------------------------- result object


def test_attribute_metrics_result_to_dict_is_strict_json_and_frame_uses_schema_names():
    schema = get_schema("pa100k")
    rng = np.random.default_rng(0)
    y = (rng.random((50, 26)) < 0.4).astype(np.uint8)
    y[:, 25] = 0
    p = rng.random((50, 26))
    m = attribute_metrics(y, p, convention="deepmar", schema=schema)
    text = json.dumps(m.to_dict(), allow_nan=False)
    d = json.loads(text)
    assert d["per_attribute"]["boots"]["mA"] is None  # NaN (no positives) written as null
    assert d["mA"] is None
    frame = m.per_attribute_frame()
    assert list(frame.index) == list(schema.attributes)
    assert frame.loc["Female", "support_pos"] == int(y[:, 0].sum())
    assert list(m.per_attribute_frame([f"a{j}" for j in range(26)]).index)[:2] == ["a0", "a1"]
    with pytest.raises(ValueError, match="attribute_names: expected 26 names, found 2"):
        m.per_attribute_frame(["a", "b"])
    assert isinstance(m, AttributeMetrics) and 0 <= m.accuracy <= 1


def test_attribute_metrics_accepts_torch_tensors_and_bools():
    m1 = attribute_metrics(torch.from_numpy(Y), torch.from_numpy(P).float(), convention="rethinking")
    m2 = attribute_metrics(Y.astype(bool), P, convention="rethinking")
    assert m1.mA == pytest.approx(0.5) and m2.mA == pytest.approx(0.5)


def test_attribute_metrics_weighted_equals_repeating_samples():
    rng = np.random.default_rng(3)
    y = (rng.random((25, 4)) < 0.4).astype(np.int64)
    p = rng.random((25, 4))
    counts = rng.integers(0, 3, size=25)
    counts[0] = 2
    rep = np.repeat(np.arange(25), counts)
    for convention in list_conventions():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            direct = attribute_metrics(y[rep], p[rep], convention=convention)
            w = weighted_attribute_metrics(y, p, np.stack([counts, np.ones(25)]), convention=convention)
            plain = attribute_metrics(y, p, convention=convention)
        for key in ("mA", "accuracy", "precision", "recall", "f1"):
            assert w[key][0] == pytest.approx(getattr(direct, key), rel=1e-12, nan_ok=True)
            assert w[key][1] == pytest.approx(getattr(plain, key), rel=1e-12, nan_ok=True)


def test_attribute_score_callables():
    assert mean_accuracy(Y, P) == pytest.approx(0.5)
    assert instance_f1.using(convention="openpar")(Y, P) == pytest.approx(13 / 36)
    assert mean_accuracy.using(convention="deepmar").weighted(Y, P, np.ones((3, 6))).shape == (3,)
    with pytest.raises(ValueError, match="metric: expected one of"):
        mean_accuracy.using(metric="auc")


def test_list_conventions_and_unknown_convention():
    assert list_conventions() == ["deepmar", "li2016", "openpar", "rethinking"]
    for name in list_conventions():
        assert get_convention(name).reference  # each preset names its paper or repository
    with pytest.raises(ValueError, match="valid names: deepmar, li2016, openpar, rethinking"):
        attribute_metrics(Y, P, convention="sklearn")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 1.5}, "threshold: expected a number in"),
        ({"eps": -1.0}, "eps: expected a finite number >= 0"),
        ({"sample_zero_division": 0.5}, "sample_zero_division: expected 'warn', 0.0, 1.0 or nan, found 0.5"),
        ({"label_zero_division": "skip"}, "label_zero_division"),
        ({"f1": "harmonic"}, "f1: expected one of 'from_means', 'per_sample', found 'harmonic'"),
        ({"inclusive": "yes"}, "inclusive: expected True or False"),
    ],
)
def test_convention_config_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConventionConfig(**kwargs)


# ---------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "y_true, y_score, kwargs, match",
    [
        (np.zeros(5), np.zeros(5), {}, r"y_true: expected a 2-D array .* found shape \(5,\)"),
        (np.zeros((0, 3)), np.zeros((0, 3)), {}, r"y_true: expected a non-empty array, found shape \(0, 3\)"),
        (np.zeros((4, 3)), np.zeros((4, 2)), {}, r"y_score: expected the shape of y_true \(4, 3\), found \(4, 2\)"),
        (np.zeros((3, 2)), np.zeros((4, 2)), {}, r"y_score: expected the shape of y_true \(3, 2\), found \(4, 2\)"),
        (np.array([["a", "b"]]), np.zeros((1, 2)), {}, "y_true: expected a numeric or boolean array, found dtype <U1"),
        (np.array([[0.5, 1.0]]), np.zeros((1, 2)), {}, r"y_true: expected values in \{0, 1\}, found 0.5"),
        (np.zeros((2, 2)), np.array([[0.1, np.nan], [0.2, 0.3]]), {}, "y_score: expected finite scores, found 1 NaN"),
        (np.zeros((2, 2)), np.array([[0.1, np.inf], [0.2, 0.3]]), {"score_type": "logit"},
         "y_score: expected finite scores, found 0 NaN and 1 infinite"),
        (np.zeros((2, 2)), np.array([[0.1, 3.0], [0.2, 0.3]]), {}, r"probabilities must lie in \[0, 1\].*logit"),
        (np.zeros((2, 2)), np.array([[0, 2], [1, 0]]), {"score_type": "label"},
         r"y_score: expected values in \{0, 1\}, found 2"),
        (np.zeros((2, 2)), np.zeros((2, 2)), {"score_type": "proba"}, "score_type: expected one of 'prob'"),
        (np.zeros((2, 2)), np.zeros((2, 2)), {"mask": np.ones((2, 3), bool)},
         r"mask: expected the shape of y_true \(2, 2\), found \(2, 3\)"),
        (np.zeros((2, 2)), np.zeros((2, 2)), {"mask": np.full((2, 2), 3)}, r"mask: expected booleans"),
        (np.zeros((2, 2)), np.zeros((2, 2)), {"threshold": 2.0}, "threshold: expected a number in"),
        (np.zeros((2, 2)), np.zeros((2, 2)), {"schema": "pa100k"}, "schema: 'pa100k' has 26 attributes, but y_true"),
        (np.zeros((2, 2)), np.zeros((2, 2), bool), {}, "boolean predictions need score_type='label'"),
        ([[0, 1], [1]], np.zeros((2, 2)), {}, "y_true: "),
    ],
)
def test_attribute_metrics_validation_errors_name_the_argument(y_true, y_score, kwargs, match):
    with pytest.raises(ValueError, match=match):
        attribute_metrics(y_true, y_score, **kwargs)


def test_metrics_docstring_examples_run():
    import doctest

    import pa100k.metrics.attributes
    import pa100k.metrics.bootstrap
    import pa100k.metrics.reid

    for module in (pa100k.metrics.attributes, pa100k.metrics.bootstrap, pa100k.metrics.reid):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__
