"""ReID metrics: hand-computed CMC / AP / INP, the argsort reference, both counting paths, single-gallery-shot."""

from __future__ import annotations

import json
from fractions import Fraction as F

import numpy as np
import pytest
import torch

import pa100k.metrics._reid_keys as keys_module
import pa100k.metrics._reid_ranks as ranks_module
import pa100k.metrics.reference as reid_reference
from pa100k.metrics import (
    ReIDMetrics,
    list_distance_metrics,
    list_protocols,
    pairwise_distance,
    reid_metrics,
    reid_metrics_reference,
)

# Gallery of 10: pid, camera, and the distances of four queries.
G_PIDS = np.array([1, 2, -1, 1, 0, 3, 1, 0, 1, 1])
G_CAMS = np.array([0, 1, 1, 1, 1, 2, 2, 0, 0, 1])
Q_PIDS = np.array([1, 2, 0, 3])
Q_CAMS = np.array([0, 1, 0, 0])
DIST = np.array(
    [
        # q0 (pid 1, cam 0): g0 and g8 are pid 1 in cam 0 (removed), g2 junk, g4/g7 distractors.
        # kept order: g1 g3* g4 g5 g6* g7 g9*  -> true matches at ranks 1, 4, 6
        [0.05, 0.10, 0.12, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.60],
        # q1 (pid 2, cam 1): its only gallery image g1 is in cam 1 -> skipped
        [0.50, 0.10, 0.20, 0.30, 0.40, 0.60, 0.70, 0.80, 0.90, 0.95],
        # q2 (pid 0): a distractor never matches -> skipped
        [0.10, 0.20, 0.30, 0.40, 0.05, 0.60, 0.70, 0.01, 0.90, 0.95],
        # q3 (pid 3, cam 0): g0, g1, g5 tie at 0.3; ties go by gallery index -> g5 at rank 2
        [0.30, 0.30, 0.10, 0.90, 0.90, 0.30, 0.90, 0.90, 0.90, 0.90],
    ]
)


def _f(x) -> float:
    return float(x)


def test_reid_metrics_matches_hand_computed_example():
    m = reid_metrics(DIST, None, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=5)
    assert (m.num_valid, m.num_skipped) == (2, 2)
    assert m.valid.tolist() == [True, False, False, True]
    ap_q0 = (F(1, 2) + F(2, 5) + F(3, 7)) / 3  # matches at 0-based ranks 1, 4, 6
    ap_q3 = F(1, 3)
    assert m.query_ap == pytest.approx([_f(ap_q0), _f(ap_q3)], rel=1e-12)
    assert m.query_inp == pytest.approx([3 / 7, 1 / 3], rel=1e-12)
    assert m.mAP == pytest.approx(_f((ap_q0 + ap_q3) / 2), rel=1e-12)
    assert m.mINP == pytest.approx(_f((F(3, 7) + F(1, 3)) / 2), rel=1e-12)
    assert m.cmc.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert m.rank(2) == 0.5


def test_reid_metrics_max_rank_is_lowered_to_non_junk_gallery_size():
    m = reid_metrics(DIST, None, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS)  # max_rank 50, 9 non-junk images
    assert len(m.cmc) == 9 and m.cmc[-1] == 1.0


def test_reid_metrics_reference_agrees_on_hand_example():
    ref = reid_metrics_reference(DIST, None, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=5)
    ours = reid_metrics(DIST, None, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=5)
    assert ref.cmc.tolist() == ours.cmc.tolist()
    assert ref.mAP == pytest.approx(ours.mAP, rel=1e-12) and ref.mINP == pytest.approx(ours.mINP, rel=1e-12)


def _random_problem(seed, nq=25, ng=70, ids=7, cams=3, levels=None, dtype=np.float32):
    rng = np.random.default_rng(seed)
    qp, gp = rng.integers(-1, ids, nq), rng.integers(-1, ids, ng)
    qc, gc = rng.integers(0, cams, nq), rng.integers(0, cams, ng)
    d = rng.random((nq, ng))
    if levels:  # many exact ties, including between true matches and other images
        d = np.round(d * levels) / levels
    d = d.astype(dtype)
    d[0, -8:] = -0.0  # negative zero ties with +0.0 (at high gallery indices, so that order by index shows)
    d[0, :8] = 0.0
    d[2] -= dtype(0.5)  # negative distances (e.g. rounding in squared Euclidean)
    return d, qp, gp, qc, gc


@pytest.mark.parametrize("fraction", [1.0, -1.0])  # every chunk on the sparse / the dense counting path
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("levels", [None, 5, 1])
def test_reid_metrics_equal_argsort_reference_on_random_inputs(monkeypatch, fraction, dtype, levels):
    monkeypatch.setattr(ranks_module, "_SPARSE_FRACTION", fraction)
    for seed in range(4):
        d, qp, gp, qc, gc = _random_problem(seed, levels=levels, dtype=dtype)
        ours = reid_metrics(d, None, qp, gp, qc, gc, max_rank=10, chunk_size=6)
        ref = reid_metrics_reference(d, None, qp, gp, qc, gc, max_rank=10)
        assert np.array_equal(ours.valid, ref.valid)
        assert np.array_equal(ours.query_cmc, ref.query_cmc)
        np.testing.assert_allclose(ours.query_ap, ref.query_ap, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ours.query_inp, ref.query_inp, rtol=0, atol=1e-12)


def test_reid_metrics_float32_precision_equals_reference_on_its_distances():
    rng = np.random.default_rng(0)
    qf, gf = rng.normal(size=(30, 16)).astype(np.float32), rng.normal(size=(90, 16)).astype(np.float32)
    qp, gp = rng.integers(0, 8, 30), rng.integers(-1, 8, 90)
    qc, gc = rng.integers(0, 2, 30), rng.integers(0, 2, 90)
    for metric in list_distance_metrics():
        d = pairwise_distance(qf, gf, metric=metric, chunk_size=7)
        ours = reid_metrics(qf, gf, qp, gp, qc, gc, metric=metric, chunk_size=7, max_rank=20, precision="float32")
        ref = reid_metrics_reference(d.numpy(), None, qp, gp, qc, gc, max_rank=20)
        assert ours.cmc.tolist() == ref.cmc.tolist()
        assert ours.mAP == pytest.approx(ref.mAP, abs=1e-12) and ours.metric == metric
    # the distances are what they claim to be
    d64 = pairwise_distance(qf.astype(np.float64), gf.astype(np.float64), metric="cosine").numpy()
    qn = qf / np.linalg.norm(qf, axis=1, keepdims=True)
    gn = gf / np.linalg.norm(gf, axis=1, keepdims=True)
    np.testing.assert_allclose(d64, 1 - qn.astype(np.float64) @ gn.T.astype(np.float64), atol=1e-6)
    sq = pairwise_distance(qf.astype(np.float64), gf.astype(np.float64), metric="sqeuclidean").numpy()
    np.testing.assert_allclose(sq, ((qf[:, None, :].astype(np.float64) - gf[None]) ** 2).sum(-1), rtol=1e-9, atol=1e-9)


def test_reid_metrics_results_do_not_depend_on_chunk_size():
    d, qp, gp, qc, gc = _random_problem(3, nq=40, levels=4)
    a = reid_metrics(d, None, qp, gp, qc, gc, chunk_size=1, max_rank=8)
    b = reid_metrics(d, None, qp, gp, qc, gc, max_rank=8)
    assert a.cmc.tolist() == b.cmc.tolist() and a.mAP == b.mAP and a.mINP == b.mINP


# ------------------------------------------------------------------------------ exact ranking of features


def _same(ours, ref):
    assert np.array_equal(ours.valid, ref.valid)
    assert np.array_equal(ours.query_cmc, ref.query_cmc)
    np.testing.assert_allclose(ours.query_ap, ref.query_ap, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.query_inp, ref.query_inp, rtol=0, atol=1e-12)


def _near_tie_features(seed, nq=18, ng=72, d=12, dtype=np.float32):
    """Features whose distances tie exactly or differ in the last bits, next to true matches."""
    rng = np.random.default_rng(seed)
    qf, gf = rng.normal(size=(nq, d)).astype(dtype), rng.normal(size=(ng, d)).astype(dtype)
    qp, gp = rng.integers(1, 5, nq), rng.integers(-1, 5, ng)
    qc, gc = rng.integers(0, 3, nq), rng.integers(0, 3, ng)
    gf[12:24] = gf[0:12]  # duplicated images: equal keys, under other identities or the same one
    gf[24:30] = np.nextafter(gf[0:6], dtype(np.inf))  # one ulp apart: different keys, float32 may tie
    gf[30:36] = gf[0:6] * dtype(2)  # equal cosine, different Euclidean distance
    gf[40:56] = np.round(gf[40:56] * 2) / 2  # coarse values: many equal inner products
    qf[8:12] = np.round(qf[8:12] * 2) / 2
    qf[12:15] = gf[0:3]  # a query equal to gallery images
    gf[60] = 0.0  # a zero vector (cosine: equal to every query)
    gp[[0, 12, 24]] = qp[12]  # a query's identity on duplicated images
    return qf, gf, qp, gp, qc, gc


@pytest.mark.parametrize("protocol", ["market1501", "cuhk03_single_shot", "viper"])
@pytest.mark.parametrize("metric", ["cosine", "sqeuclidean", "euclidean"])
def test_reid_metrics_exact_equals_reference_on_near_ties(monkeypatch, protocol, metric):
    for seed in range(2 if protocol == "market1501" else 1):
        qf, gf, qp, gp, qc, gc = _near_tie_features(seed + len(metric))
        kw = {"metric": metric, "max_rank": 12, "protocol": protocol, "repeats": 4, "seed": 3}
        ref = reid_metrics_reference(qf, gf, qp, gp, qc, gc, **kw)
        # every chunk on the sparse / the dense counting path, then with every key refined in float64
        for fraction, whole in ((1.0, False), (-1.0, False), (1.0, True)):
            monkeypatch.setattr(ranks_module, "_SPARSE_FRACTION", fraction)
            monkeypatch.setattr(ranks_module, "_refine_whole_chunk", lambda *args, whole=whole: whole)
            _same(reid_metrics(qf, gf, qp, gp, qc, gc, chunk_size=5, **kw), ref)


def test_reid_metrics_exact_settles_ties_in_integers(monkeypatch):
    calls = {"refine": 0, "exact": 0}
    refine, compare = keys_module.ExactScorer.refine_rows, keys_module.ExactValues.compare

    def spy_refine(self, rows, cols):
        calls["refine"] += len(rows)
        return refine(self, rows, cols)

    def spy_compare(self, i, a, b):
        calls["exact"] += 1
        return compare(self, i, a, b)

    monkeypatch.setattr(keys_module.ExactScorer, "refine_rows", spy_refine)
    monkeypatch.setattr(keys_module.ExactValues, "compare", spy_compare)
    qf, gf, qp, gp, qc, gc = _near_tie_features(0)
    ours = reid_metrics(qf, gf, qp, gp, qc, gc, metric="sqeuclidean", max_rank=12)
    assert calls["refine"] > 0 and calls["exact"] > 0  # near-ties went through float64 and integers
    _same(ours, reid_metrics_reference(qf, gf, qp, gp, qc, gc, metric="sqeuclidean", max_rank=12))


def test_reid_metrics_exact_orders_what_float32_rounds_to_a_tie():
    # q = e0; g0 = e0 + 2^-20 e1 (key -1/2 + 2^-41), g1 = e0 (key -1/2): float32 squared distances are both 0,
    # so float32 ties them and keeps gallery order; the exact keys put g1 first.
    q = np.zeros((1, 4), dtype=np.float32)
    q[0, 0] = 1
    g = np.zeros((3, 4), dtype=np.float32)
    g[:2, 0] = 1
    g[0, 1] = 2.0**-20
    g[2, 2] = 1
    ids = ([1], [2, 1, 3], [0], [1, 1, 1])
    f32 = pairwise_distance(q, g, metric="sqeuclidean").numpy()
    assert f32[0, 0] == f32[0, 1]
    exact = reid_metrics(q, g, *ids, metric="sqeuclidean", max_rank=3)
    rounded = reid_metrics(q, g, *ids, metric="sqeuclidean", max_rank=3, precision="float32")
    assert exact.cmc.tolist() == [1.0, 1.0, 1.0] and rounded.cmc.tolist() == [0.0, 1.0, 1.0]
    _same(exact, reid_metrics_reference(q, g, *ids, metric="sqeuclidean", max_rank=3))
    _same(rounded, reid_metrics_reference(f32, None, *ids, max_rank=3))


def test_reid_metrics_exact_orders_what_float64_rounds_to_a_tie():
    # q = e0 + 2^-30 e1; g1 = e0 + 2^-30 e1 has key ½(1 + 2^-60) - (1 + 2^-60) = -½ - 2^-61, below g0 = e0's
    # -½, but float64 rounds both to -½: only the integer comparison puts the true match g1 first.
    q = np.array([[1.0, 2.0**-30, 0.0]], dtype=np.float32)
    g = np.array([[1.0, 0.0, 0.0], [1.0, 2.0**-30, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    ids = ([1], [2, 1, 3], [0], [1, 1, 1])
    exact = reid_metrics(q, g, *ids, metric="sqeuclidean", max_rank=3)
    assert exact.cmc.tolist() == [1.0, 1.0, 1.0]
    _same(exact, reid_metrics_reference(q, g, *ids, metric="sqeuclidean", max_rank=3))
    assert reid_metrics(q, g, *ids, metric="sqeuclidean", max_rank=3, precision="float32").cmc[0] == 0.0


def test_reid_metrics_exact_does_not_depend_on_dtype_chunks_or_product_backend(monkeypatch):
    qf, gf, qp, gp, qc, gc = _near_tie_features(1)
    kw = {"metric": "sqeuclidean", "max_rank": 12}
    base = reid_metrics(qf, gf, qp, gp, qc, gc, **kw)
    # float64 copies hold the same numbers, so the same exact keys (through float64-to-float32 bounds)
    wide = reid_metrics(qf.astype(np.float64), gf.astype(np.float64), qp, gp, qc, gc, chunk_size=1, **kw)
    # torch products (the GPU code path, here on the CPU) round differently, within the same bound
    monkeypatch.setattr(keys_module, "_torch_products", lambda device: True)
    torch_path = reid_metrics(torch.from_numpy(qf), torch.from_numpy(gf), qp, gp, qc, gc, chunk_size=7, **kw)
    for other in (wide, torch_path):
        assert np.array_equal(other.query_cmc, base.query_cmc) and np.array_equal(other.query_ap, base.query_ap)


def test_reid_metrics_exact_with_extreme_feature_scales():
    qf, gf, qp, gp, qc, gc = _near_tie_features(4)
    gf[3] *= np.float32(2.0**60)  # norms beyond what scaling columns after the product allows
    gf[5] *= np.float32(2.0**-70)
    cos = reid_metrics(qf, gf, qp, gp, qc, gc, max_rank=12)
    _same(cos, reid_metrics_reference(qf, gf, qp, gp, qc, gc, max_rank=12))
    with pytest.raises(ValueError, match="too large to rank exactly.*precision='float32'"):
        reid_metrics(qf, gf, qp, gp, qc, gc, metric="sqeuclidean")


@pytest.mark.parametrize("metric", ["cosine", "sqeuclidean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_scorer_bounds_hold(metric, dtype):
    # features with a wide dynamic range and a dominant component, where float32 sums lose the most
    rng = np.random.default_rng(5)
    qf = (rng.normal(size=(6, 96)) * np.exp(rng.normal(0, 3, size=(6, 96)))).astype(dtype)
    gf = (rng.normal(size=(20, 96)) * np.exp(rng.normal(0, 3, size=(20, 96)))).astype(dtype)
    gf[:, 0] += 1e3
    qf[:, 0] += 1e3
    q, g = keys_module.prepare_features(qf, gf, metric)
    scorer = keys_module.ExactScorer(qf, gf, metric, torch.device("cpu"))
    assert np.array_equal(scorer.q, q) and np.array_equal(scorer.gallery_rows(np.arange(len(g))), g)
    chunk = scorer.chunk(0, len(q))
    rows, cols = np.divmod(np.arange(q.shape[0] * g.shape[0]), g.shape[0])
    exact = np.array([float(reid_reference.exact_key_fraction(q[i], g[j], metric)) for i, j in zip(rows, cols)])
    exact = exact.reshape(len(q), len(g))
    approx_err = np.abs(chunk.approx.astype(np.float64) - exact).max(axis=1)
    refined_err = np.abs(chunk.refine(rows, cols).reshape(len(q), len(g)) - exact).max(axis=1)
    assert (approx_err <= chunk.e1).all() and (refined_err <= chunk.e2).all()
    assert (chunk.e1 < 1e-3 * np.abs(exact).max(axis=1)).all()  # and the bounds are useful


def test_exact_values_equal_fractions():
    rng = np.random.default_rng(2)
    q = np.array([rng.normal(size=6), [1e-40, 3e-39, -0.0, 0.0, 2.0**-149, 1e30]], dtype=np.float32)
    g = np.array([rng.normal(size=6), [2e-42, -1e-39, 1.0, 0.0, 2.0**-149, -1e-30]], dtype=np.float32)
    for half in (False, True):
        ev = keys_module.ExactValues(q, g, half)
        metric = "sqeuclidean" if half else "cosine"
        for i in range(2):
            for j in range(2):
                v, e = ev.key(i, j)
                assert F(v) * F(2) ** e == reid_reference.exact_key_fraction(q[i], g[j], metric)
        assert ev.compare(0, 0, 0) == 0 and ev.compare(0, 0, 1) == -ev.compare(0, 1, 0)


def test_reference_orders_features_by_exact_fractions():
    qf, gf, *_ = _near_tie_features(3, d=6)
    for metric in ("cosine", "sqeuclidean"):
        q, g = keys_module.prepare_features(qf, gf, metric)
        for i, order in enumerate(reid_reference._exact_orders(qf, gf, metric)):
            keys = [reid_reference.exact_key_fraction(q[i], g[j], metric) for j in range(len(g))]
            assert order.tolist() == sorted(range(len(g)), key=lambda j: (keys[j], j))


def test_low_precision_gpu_products_widen_the_bound(monkeypatch):
    qf, gf, *_ = _near_tie_features(0)
    monkeypatch.setattr(keys_module, "_torch_products", lambda device: False)  # multiply here, bound as there
    cpu = keys_module.ExactScorer(qf, gf, "cosine", torch.device("cpu")).e1
    assert keys_module.ExactScorer(qf, gf, "cosine", torch.device("cuda")).e1 == pytest.approx(cpu)
    monkeypatch.setattr(torch, "get_float32_matmul_precision", lambda: "high")  # TF32 allowed
    tf32 = keys_module.ExactScorer(qf, gf, "cosine", torch.device("cuda")).e1
    assert (tf32 >= 2.0**-6).all() and (tf32 > 100 * cpu).all()  # inputs rounded to 8 bits: 2^-6 per unit norm


# ------------------------------------------------------------------------------------- single-gallery-shot


def test_single_gallery_shot_follows_the_documented_draws():
    # one query (pid 1, cam 0); gallery: g0 pid1 0.1, g1 pid2 0.3, g2 pid1 0.5, g3 pid2 0.7 (all camera 1).
    d = np.array([[0.1, 0.3, 0.5, 0.7]])
    m = reid_metrics(d, None, [1], [1, 2, 1, 2], [0], [1, 1, 1, 1], protocol="cuhk03_single_shot",
                     repeats=400, seed=7, max_rank=2)
    u = np.random.default_rng([7, 0]).random((400, 2))  # identities [1, 2]; pick = floor(u * 2)
    own_far, other_near = u[:, 0] >= 0.5, u[:, 1] < 0.5
    expected_rank1 = np.mean(~(own_far & other_near))
    assert m.cmc[0] == pytest.approx(expected_rank1, abs=1e-12)
    assert 0.65 < m.cmc[0] < 0.85  # about 3/4
    assert m.cmc[1] == 1.0
    assert m.mAP == pytest.approx((1 + 2 / 3) / 2)  # AP uses the full ranking


def test_single_gallery_shot_is_seeded_and_reproducible():
    d, qp, gp, qc, gc = _random_problem(1, nq=30, ng=90, ids=5)
    kw = {"protocol": "cuhk03_single_shot", "repeats": 20, "max_rank": 10}
    a = reid_metrics(d, None, qp, gp, qc, gc, seed=11, **kw)
    b = reid_metrics(d, None, qp, gp, qc, gc, seed=11, chunk_size=4, **kw)
    c = reid_metrics(d, None, qp, gp, qc, gc, seed=12, **kw)
    assert np.array_equal(a.cmc, b.cmc)
    assert not np.array_equal(a.query_cmc, c.query_cmc)
    ref = reid_metrics_reference(d, None, qp, gp, qc, gc, seed=11, **kw)
    assert np.array_equal(a.query_cmc, ref.query_cmc)
    assert a.mAP == pytest.approx(ref.mAP, abs=1e-12)
    assert a.to_dict()["repeats"] == 20


def test_viper_protocol_with_one_image_per_identity_is_exact():
    rng = np.random.default_rng(4)
    n = 12
    d = rng.random((n, n))
    ids = np.arange(1, n + 1)
    single = reid_metrics(d, None, ids, ids, np.zeros(n), np.ones(n), protocol="viper", repeats=5, max_rank=n)
    market = reid_metrics(d, None, ids, ids, np.zeros(n), np.ones(n), max_rank=n)
    assert np.array_equal(single.cmc, market.cmc)


# ------------------------------------------------------------------------------------------ result, errors


def test_reid_metrics_to_dict_is_json():
    m = reid_metrics(DIST, None, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=5)
    d = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert d["rank1"] == 0.0 and d["rank5"] == 1.0 and "rank10" not in d
    assert d["num_valid"] == 2 and d["protocol"] == "market1501" and d["metric"] == "precomputed"
    assert isinstance(m, ReIDMetrics) and list_protocols() == ["cuhk03_single_shot", "market1501", "viper"]


def test_reid_metrics_accepts_torch_inputs():
    m = reid_metrics(torch.from_numpy(DIST).float(), None, torch.from_numpy(Q_PIDS), G_PIDS, Q_CAMS,
                     torch.from_numpy(G_CAMS), max_rank=5)
    assert m.cmc.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_reid_metrics_on_cuda_equals_cpu():
    rng = np.random.default_rng(0)
    qf, gf = torch.randn(50, 32), torch.randn(300, 32)
    qp, gp = rng.integers(1, 20, 50), rng.integers(0, 20, 300)
    qc, gc = rng.integers(0, 3, 50), rng.integers(0, 3, 300)
    kw = {"protocol": "cuhk03_single_shot", "repeats": 5}
    cpu = reid_metrics(qf, gf, qp, gp, qc, gc, **kw)
    gpu = reid_metrics(qf.cuda(), gf.cuda(), qp, gp, qc, gc, **kw)
    _same(gpu, cpu)  # exact keys: the GPU's rounding stays within the bound
    cpu32 = reid_metrics(qf, gf, qp, gp, qc, gc, precision="float32", **kw)
    gpu32 = reid_metrics(qf.cuda(), gf.cuda(), qp, gp, qc, gc, precision="float32", **kw)
    np.testing.assert_allclose(cpu32.cmc, gpu32.cmc, atol=0.05)  # float32 distances round differently
    assert cpu32.num_valid == gpu32.num_valid


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros((2, 3)), None, [1, 2], [1, 2], [0, 0], [1, 1]), {}, r"g_pids: expected 3 ids .* found 2"),
        ((np.zeros((2, 3)), None, [1], [1, 2, 3], [0, 0], [1, 1, 1]), {}, r"q_pids: expected 2 ids"),
        ((np.zeros((2, 3)), None, [1, 2], [1, 2, 3], [0], [1, 1, 1]), {}, r"q_camids: expected 2 ids"),
        ((np.zeros(3), None, [1], [1, 2, 3], [0], [1, 1, 1]), {}, r"distmat: expected a 2-D"),
        ((np.zeros((0, 3)), None, [], [1, 2, 3], [], [1, 1, 1]), {}, r"distmat: expected a non-empty"),
        ((np.array([[0.1, np.nan, 0.3]]), None, [1], [1, 2, 3], [0], [1, 1, 1]), {},
         "distmat: expected finite values, found 1 NaN"),
        ((np.zeros((1, 4)), np.zeros((3, 5)), [1], [1, 2, 3], [0], [1, 1, 1]), {},
         "gallery_features: expected feature dimension 4"),
        ((np.zeros((1, 4)), np.full((3, 4), np.inf), [1], [1, 2, 3], [0], [1, 1, 1]), {},
         "gallery_features: expected finite values, found 0 NaN and 12 infinite"),
        ((np.zeros((1, 3)), None, [1.5], [1, 2, 3], [0], [1, 1, 1]), {}, "q_pids: expected integer ids"),
        ((np.zeros((1, 3)), None, [1], [1, 2, 3], [0], [0, 1, 1]), {}, "none of the 1 queries has a true match"),
        ((np.zeros((1, 3)), None, [1], [-1, -1, -1], [0], [1, 1, 1]), {}, "every gallery image is junk"),
        ((np.zeros((2, 3)), None, [1, 0], [0, 0, -1], [0, 0], [1, 1, 1]), {}, "none of the 2 queries"),
        ((np.zeros((1, 3)), None, [4], [1, 2, 3], [0], [1, 1, 1]), {}, "none of the 1 queries"),
        ((np.zeros((1, 3)), None, [1], [1, 2, 3], [0], [1, 1, 1]), {"protocol": "msmt"}, "valid names: cuhk03"),
        ((np.zeros((1, 4)), np.zeros((3, 4)), [1], [1, 2, 3], [0], [1, 1, 1]), {"metric": "l1"},
         "metric: unknown distance 'l1'; valid names: cosine, euclidean, sqeuclidean"),
        ((np.zeros((1, 3)), None, [1], [1, 2, 3], [0], [1, 1, 1]), {"max_rank": 0},
         "max_rank: expected an integer >= 1"),
        ((np.zeros((1, 3)), None, [1], [1, 2, 3], [0], [1, 1, 1]), {"repeats": 0}, "repeats: expected an integer >= 1"),
        ((np.zeros((1, 3)), None, [1], [1, 2, 3], [0], [1, 1, 1]), {"seed": -1}, "seed: expected an integer >= 0"),
        ((np.zeros((1, 3)), None, [1], [1, 2, 3], [0], [1, 1, 1]), {"precision": "float16"},
         "precision: unknown value 'float16'; valid names: exact, float32"),
    ],
)
def test_reid_metrics_validation_errors_name_the_argument(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        reid_metrics(*args, **kwargs)


def test_perf_benchmark_runs_small_and_reports_identical_results(capsys):
    from benchmarks.perf.metrics import main

    threads = torch.get_num_threads()
    try:
        assert main(["--threads", "1", "--attr-samples", "2000", "--attr-repeats", "1", "--bootstrap-samples", "300",
                     "--bootstrap-n", "20", "--queries", "40", "--gallery", "400", "--dim", "16"]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "exact path vs exact reference: identical" in out
    assert "float32 path vs reference on its distances: identical" in out and "DIFFERENT" not in out
    assert "Attribute metrics on 2,000 x 26" in out and "worst case" in out
