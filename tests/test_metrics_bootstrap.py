"""Bootstrap confidence intervals and paired comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from pa100k.metrics import (
    ConfidenceInterval,
    bootstrap_ci,
    instance_f1,
    mean_accuracy,
    paired_bootstrap,
    reid_metrics,
    sample_mean,
)

# the synthetic data has samples without positives; li2016 warns about them, which is not under test here
pytestmark = pytest.mark.filterwarnings("ignore::pa100k.metrics.attributes.UndefinedMetricWarning")


def _attribute_data(n=400, a=6, seed=0, noise=0.35):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, a)) < 0.35).astype(np.uint8)
    p = np.clip(y * 0.5 + 0.25 + rng.normal(0, noise, (n, a)), 0, 1)
    return y, p


class _PlainMetric:
    """The same metric without a ``weighted`` method: forces one call per replicate."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


@pytest.mark.parametrize("metric", [mean_accuracy, instance_f1.using(convention="deepmar")])
def test_bootstrap_ci_weighted_route_equals_per_replicate_route(metric):
    y, p = _attribute_data()
    fast = bootstrap_ci(metric, y, p, n=70, seed=3)
    slow = bootstrap_ci(_PlainMetric(metric), y, p, n=70, seed=3)
    assert fast.estimate == pytest.approx(slow.estimate, rel=1e-12)
    assert fast.low == pytest.approx(slow.low, rel=1e-12) and fast.high == pytest.approx(slow.high, rel=1e-12)


def test_bootstrap_ci_passes_options_and_resamples_array_keywords():
    from pa100k.metrics import ConventionConfig, attribute_metrics

    y, p = _attribute_data(n=120)
    mask = np.ones(y.shape, dtype=bool)
    mask[::3, 0] = False
    cfg = ConventionConfig(threshold=0.4, sample_zero_division=0.0, label_zero_division=0.0)

    def f1(y_true, y_score, mask=None, convention=None):
        return attribute_metrics(y_true, y_score, mask=mask, convention=convention).f1

    ci = bootstrap_ci(f1, y, p, n=30, seed=2, mask=mask, convention=cfg)
    assert ci.estimate == pytest.approx(attribute_metrics(y, p, mask=mask, convention=cfg).f1)
    fast = bootstrap_ci(instance_f1.using(convention=cfg), y, p, n=30, seed=2, mask=mask)
    assert (fast.low, fast.high) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_bootstrap_ci_with_groups_routes_agree_and_resample_whole_groups():
    y, p = _attribute_data(n=300)
    groups = np.repeat(np.arange(60), 5)
    fast = bootstrap_ci(mean_accuracy, y, p, n=40, seed=1, groups=groups)
    slow = bootstrap_ci(_PlainMetric(mean_accuracy), y, p, n=40, seed=1, groups=groups)
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), rel=1e-12)

    seen = []

    def group_sizes(labels):
        counts = np.bincount(labels, minlength=60)
        seen.append(counts)
        return float(len(labels))

    labels = np.repeat(np.arange(60), np.arange(60) % 4 + 1)  # groups of 1..4 items
    bootstrap_ci(group_sizes, labels, n=20, seed=0, groups=labels)
    sizes = np.arange(60) % 4 + 1
    for counts in seen[1:]:  # every drawn group comes whole (a multiple of its size)
        assert np.all(counts % sizes == 0)
    assert any(np.any(c == 0) for c in seen[1:]) and any(np.any(c > sizes) for c in seen[1:])


def test_bootstrap_ci_is_seeded_and_covers_the_estimate():
    y, p = _attribute_data()
    a = bootstrap_ci(mean_accuracy, y, p, n=200, seed=5)
    b = bootstrap_ci(mean_accuracy, y, p, n=200, seed=5)
    c = bootstrap_ci(mean_accuracy, y, p, n=200, seed=6)
    assert a == b and (a.low, a.high) != (c.low, c.high)
    assert a.low < a.estimate < a.high
    assert a.estimate == pytest.approx(mean_accuracy(y, p))
    wide = bootstrap_ci(mean_accuracy, y[:100], p[:100], n=200, seed=5)
    assert wide.half_width > a.half_width  # less data, wider interval


def test_bootstrap_ci_of_a_mean_matches_the_normal_approximation():
    rng = np.random.default_rng(0)
    x = rng.normal(0.7, 0.1, 2000)
    ci = bootstrap_ci(sample_mean, x, n=1000, seed=0)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert ci.estimate == pytest.approx(x.mean())
    assert ci.half_width == pytest.approx(1.96 * se, rel=0.12)
    slow = bootstrap_ci(_PlainMetric(lambda v: float(np.mean(v))), x, n=100, seed=0)
    fast = bootstrap_ci(sample_mean, x, n=100, seed=0)
    assert (slow.low, slow.high) == pytest.approx((fast.low, fast.high), rel=1e-12)


def test_bootstrap_ci_over_reid_identities():
    rng = np.random.default_rng(2)
    qp = np.repeat(np.arange(1, 21), 3)
    gp = np.repeat(np.arange(1, 21), 4)
    qf = rng.normal(size=(60, 8)) + np.eye(21, 8, k=0)[qp] * 3
    gf = rng.normal(size=(80, 8)) + np.eye(21, 8, k=0)[gp] * 3
    m = reid_metrics(qf, gf, qp, gp, np.zeros(60), np.ones(80))
    ci = bootstrap_ci(sample_mean, m.query_ap, n=300, seed=0, groups=qp[m.valid])
    assert ci.estimate == pytest.approx(m.mAP)
    assert 0 <= ci.low <= m.mAP <= ci.high <= 1


def test_confidence_interval_format():
    ci = ConfidenceInterval(0.7421, 0.738, 0.746)
    assert ci.format() == "74.2 ± 0.4" and str(ci) == "74.2 ± 0.4"
    assert ci.format(scale=1, digits=3) == "0.742 ± 0.004"
    assert ci.to_dict()["half_width"] == pytest.approx(0.004)


def test_paired_bootstrap_probability_that_a_beats_b():
    y, good = _attribute_data(noise=0.2)
    _, bad = _attribute_data(noise=0.6, seed=9)
    assert paired_bootstrap(mean_accuracy, y, good, bad, n=200) == 1.0
    assert paired_bootstrap(mean_accuracy, y, bad, good, n=200) == 0.0
    assert paired_bootstrap(mean_accuracy, y, good, good, n=50) == 0.5  # ties count one half
    # two nearly equal methods: an undecided probability, reproducible
    rng = np.random.default_rng(1)
    close = np.clip(good + rng.normal(0, 0.05, good.shape), 0, 1)
    p1 = paired_bootstrap(mean_accuracy, y, good, close, n=300, seed=4)
    assert p1 == paired_bootstrap(mean_accuracy, y, good, close, n=300, seed=4)
    assert 0.0 < p1 < 1.0
    slow = paired_bootstrap(_PlainMetric(mean_accuracy), y, good, close, n=64, seed=4)
    fast = paired_bootstrap(mean_accuracy, y, good, close, n=64, seed=4)
    assert slow == fast


def test_paired_bootstrap_passes_the_mask():
    y, p = _attribute_data(n=200)
    mask = np.ones(y.shape, dtype=bool)
    mask[:, 0] = False  # attribute 0 unknown everywhere: A and B differ only there
    worse = p.copy()
    worse[:, 0] = 1 - worse[:, 0]
    assert paired_bootstrap(mean_accuracy.using(convention="rethinking"), y, p, worse, n=40, mask=mask) == 0.5
    assert paired_bootstrap(mean_accuracy.using(convention="rethinking"), y, p, worse, n=40) == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bootstrap_ci(sample_mean, np.ones(5), n=0), "n: expected an integer >= 1, found 0"),
        (lambda: bootstrap_ci(sample_mean, np.ones(5), seed=-2), "seed: expected an integer >= 0"),
        (lambda: bootstrap_ci(sample_mean, np.ones(5), alpha=1.0), r"alpha: expected a number in \(0, 1\)"),
        (lambda: bootstrap_ci(sample_mean), "arrays: expected at least one array"),
        (lambda: bootstrap_ci(sample_mean, np.ones(0)), r"arrays\[0\]: expected a non-empty array"),
        (lambda: bootstrap_ci(mean_accuracy, np.ones((5, 2)), np.ones((4, 2))), r"arrays\[1\]: expected 5 items"),
        (lambda: bootstrap_ci(sample_mean, np.ones(5), groups=[1, 2]), "groups: expected one group label per item"),
        (lambda: paired_bootstrap(mean_accuracy, np.ones((5, 2)), np.ones((5, 2)), np.ones((5, 3))),
         r"scores_b: expected the shape of y_true \(5, 2\), found \(5, 3\)"),
    ],
)
def test_bootstrap_validation_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
