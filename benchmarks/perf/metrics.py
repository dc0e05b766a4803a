"""Speed and memory of pa100k.metrics: attribute metrics, bootstrap, and ReID at Market-1501 size.

    python -m benchmarks.perf.metrics            # full sizes (about two minutes on 2 cores)
    python -m benchmarks.perf.metrics --threads 2 --queries 3368 --gallery 15913 --dim 2048

The ReID part times :func:`pa100k.metrics.reid_metrics` end to end (features -> CMC, mAP, mINP) in its
default exact mode and with ``precision="float32"``, and the straightforward evaluator
(:func:`pa100k.metrics.reid_metrics_reference`: a stable argsort of each query's row in numpy, then the
same protocol) on the same problem: from the features (float64 keys with exact near-ties, the definition
the exact mode follows) and from the float32 distance matrix. It reports wall and CPU time, peak resident
memory and the load average (the machine may be shared), checks that each path's results are identical to
its reference, and exits with status 1 if any differ. The features imitate a trained model (identity
centres plus per-image noise of varying strength, so ranks of the last true match spread as in practice);
a second run with unstructured random features shows the worst case for the rank counting.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from pa100k.metrics import (
    UndefinedMetricWarning,
    attribute_metrics,
    bootstrap_ci,
    list_conventions,
    mean_accuracy,
    pairwise_distance,
    reid_metrics,
    reid_metrics_reference,
)

# PA-100K train positive ratios (FORMATS.md), for a realistic label matrix
PA100K_RATIOS = np.array([
    0.45, 0.02, 0.92, 0.06, 0.34, 0.32, 0.34, 0.04, 0.19, 0.18, 0.19, 0.15, 0.01, 0.55, 0.45, 0.04, 0.13, 0.11,
    0.05, 0.01, 0.02, 0.03, 0.72, 0.14, 0.12, 0.006,
])


# ----------------------------------------------------------------------------------------------- helpers


def _proc_status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the process's peak resident set (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _Timing(float):
    """Wall seconds that also remember the process CPU seconds (all threads) of the same call."""

    cpu: float = 0.0

    def __str__(self) -> str:
        return f"{float(self):6.2f} s (CPU {self.cpu:5.2f} s)"


def _measure(fn: Callable[[], Any]) -> tuple[Any, _Timing, float | None, float | None]:
    """(result, wall seconds with .cpu, peak RSS in GB during the call, RSS in GB before the call)."""
    gc.collect()
    reset = _reset_peak()
    before = _proc_status_kb("VmRSS")
    c = time.process_time()
    t = time.perf_counter()
    out = fn()
    dt = _Timing(time.perf_counter() - t)
    dt.cpu = time.process_time() - c
    peak = _proc_status_kb("VmHWM") if reset else None
    return out, dt, _gb(peak), _gb(before)


def _gb(kb: int | None) -> float | None:
    return None if kb is None else kb / 2**20


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _fmt_gb(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} GB"


# ---------------------------------------------------------------------------------------------- problems


def attribute_problem(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with PA-100K's positive ratios and float32 probabilities of a decent classifier."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(PA100K_RATIOS))) < PA100K_RATIOS).astype(np.uint8)
    logits = (y * 2.0 - 1.0) * 1.5 + rng.normal(0, 1.5, y.shape)
    return y, (1 / (1 + np.exp(-logits))).astype(np.float32)


def reid_problem(
    num_query: int, num_gallery: int, dim: int, *, num_ids: int = 750, num_distractors: int = 2800,
    structured: bool = True, seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Market-1501-shaped features and ids: ``num_ids`` identities over 6 cameras plus pid-0 distractors."""
    g = torch.Generator().manual_seed(seed)
    num_distractors = min(num_distractors, num_gallery // 5)
    q_pids = torch.randint(1, num_ids + 1, (num_query,), generator=g)
    g_pids = torch.cat([
        torch.randint(1, num_ids + 1, (num_gallery - num_distractors,), generator=g),
        torch.zeros(num_distractors, dtype=torch.long),
    ])
    g_pids = g_pids[torch.randperm(num_gallery, generator=g)]
    q_cams = torch.randint(0, 6, (num_query,), generator=g)
    g_cams = torch.randint(0, 6, (num_gallery,), generator=g)
    qf = torch.randn(num_query, dim, generator=g)
    gf = torch.randn(num_gallery, dim, generator=g)
    if structured:  # identity centre + noise whose strength varies per image (easy and hard images)
        centres = torch.randn(num_ids + 1, dim, generator=g)
        qf.mul_(torch.exp(1.0 + 0.3 * torch.randn(num_query, 1, generator=g))).add_(centres[q_pids])
        scale = torch.exp(1.0 + 0.3 * torch.randn(num_gallery, 1, generator=g))
        gf.mul_(scale).add_(centres[g_pids] * (g_pids > 0).unsqueeze(1))
    return qf, gf, q_pids.numpy(), g_pids.numpy(), q_cams.numpy(), g_cams.numpy()


# --------------------------------------------------------------------------------------------------- runs


def run_attributes(num_samples: int, repeats: int) -> None:
    y, p = attribute_problem(num_samples)
    print(f"\nAttribute metrics on {num_samples:,} x {y.shape[1]} (median of {repeats} runs; target < 50 ms)")
    for name in list_conventions():
        dt = _median_time(lambda name=name: attribute_metrics(y, p, convention=name), repeats)
        m = attribute_metrics(y, p, convention=name)
        print(f"  {name:<11} {dt * 1000:7.1f} ms   mA {m.mA * 100:.2f}  acc {m.accuracy * 100:.2f}  "
              f"prec {m.precision * 100:.2f}  rec {m.recall * 100:.2f}  F1 {m.f1 * 100:.2f}")


def run_bootstrap(num_samples: int, n: int) -> None:
    y, p = attribute_problem(num_samples, seed=1)
    t = time.perf_counter()
    ci = bootstrap_ci(mean_accuracy, y, p, n=n, seed=0)
    dt = time.perf_counter() - t
    print(f"\nBootstrap of mA, {n} replicates on {num_samples:,} x {y.shape[1]}: {dt:.2f} s   mA = {ci.format()} "
          f"(95% interval {ci.low * 100:.2f}..{ci.high * 100:.2f})")


def _load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "load average n/a"


def _compare(ours: Any, ref: Any) -> tuple[bool, str]:
    """(identical?, details) of two ReIDMetrics: CMC and valid queries equal, AP and INP within 1e-12."""
    same_cmc = np.array_equal(ours.query_cmc, ref.query_cmc) and np.array_equal(ours.cmc, ref.cmc)
    same_valid = np.array_equal(ours.valid, ref.valid)
    d_ap = float(np.max(np.abs(ours.query_ap - ref.query_ap))) if same_valid else float("inf")
    d_inp = float(np.max(np.abs(ours.query_inp - ref.query_inp))) if same_valid else float("inf")
    ok = same_cmc and same_valid and d_ap < 1e-12 and d_inp < 1e-12
    return ok, (f"{'identical' if ok else 'DIFFERENT'} (CMC equal: {same_cmc}, valid queries equal: {same_valid}, "
                f"max |AP diff| {d_ap:.1e}, max |INP diff| {d_inp:.1e}, mAP {ours.mAP:.12f} vs {ref.mAP:.12f})")


def run_reid(num_query: int, num_gallery: int, dim: int, *, reference: bool, structured: bool) -> bool:
    """Time the exact and float32 paths (and the argsort references); True when all results are identical."""
    qf, gf, qp, gp, qc, gc = reid_problem(num_query, num_gallery, dim, structured=structured)
    kind = "features imitating a trained model" if structured else "unstructured random features (worst case)"
    print(f"\nReID, {num_query:,} queries x {num_gallery:,} gallery, {dim}-d, cosine, Market-1501 protocol: {kind}")
    resident = (qf.numel() + gf.numel()) * 4 / 2**30
    print(f"  torch and BLAS threads {torch.get_num_threads()}; features resident: {resident:.2f} GB; {_load()}")
    print("  wall time (CPU time of all threads), peak resident memory during the call")

    exact, t_exact, peak_exact, base = _measure(lambda: reid_metrics(qf, gf, qp, gp, qc, gc))
    print(f"  ours, exact (default), features -> CMC/mAP/mINP:   {t_exact}   peak RSS {_fmt_gb(peak_exact)} "
          f"(before {_fmt_gb(base)})   [targets: < 3 s, < 2 GB]")
    print(f"     rank-1 {exact.cmc[0] * 100:.2f}  rank-5 {exact.cmc[4] * 100:.2f}  mAP {exact.mAP * 100:.2f}  "
          f"mINP {exact.mINP * 100:.2f}  valid {exact.num_valid}  skipped {exact.num_skipped}")
    f32, t_f32, peak_f32, _ = _measure(lambda: reid_metrics(qf, gf, qp, gp, qc, gc, precision="float32"))
    print(f"  ours, float32 distances, features -> metrics:     {t_f32}   peak RSS {_fmt_gb(peak_f32)}")
    dist, t_dist, _, _ = _measure(lambda: pairwise_distance(qf, gf))
    from_dist, t_rank, peak_rank, _ = _measure(lambda: reid_metrics(dist, None, qp, gp, qc, gc))
    print(f"  ours, float32 distances only:                     {t_dist}")
    print(f"  ours, float32 distance matrix -> metrics:         {t_rank}   peak RSS {_fmt_gb(peak_rank)}")
    same_f32, detail = _compare(f32, from_dist)
    print(f"  float32 path, features vs distance matrix: {detail}")
    ok = same_f32
    if reference:
        ref, t_ref, peak_ref, _ = _measure(lambda: reid_metrics_reference(qf, gf, qp, gp, qc, gc))
        print(f"  reference, exact (float64 keys, exact near-ties, argsort per query), features -> metrics: "
              f"{t_ref}   peak RSS {_fmt_gb(peak_ref)}")
        dist_np = dist.numpy()
        ref32, t_ref32, peak_ref32, _ = _measure(lambda: reid_metrics_reference(dist_np, None, qp, gp, qc, gc))
        print(f"  reference, float32 distance matrix -> metrics (argsort per query):                   "
              f"{t_ref32}   peak RSS {_fmt_gb(peak_ref32)}")
        print(f"  speed-up, exact end to end: {t_ref / t_exact:5.1f}x (CPU {t_ref.cpu / t_exact.cpu:5.1f}x)   "
              f"float32 ranking: {t_ref32 / t_rank:5.1f}x (CPU {t_ref32.cpu / t_rank.cpu:5.1f}x)   "
              f"float32 end to end: {(t_dist + t_ref32) / t_f32:5.1f}x "
              f"(CPU {(t_dist.cpu + t_ref32.cpu) / t_f32.cpu:5.1f}x)   [target: >= 5x]")
        same_exact, detail = _compare(exact, ref)
        print(f"  exact path vs exact reference: {detail}")
        same_ref32, detail = _compare(f32, ref32)
        print(f"  float32 path vs reference on its distances: {detail}")
        ok = ok and same_exact and same_ref32
    print(f"  {_load()}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch and BLAS threads (default 2)")
    ap.add_argument("--attr-samples", type=int, default=100_000)
    ap.add_argument("--attr-repeats", type=int, default=20)
    ap.add_argument("--bootstrap-samples", type=int, default=10_000)
    ap.add_argument("--bootstrap-n", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=3368)
    ap.add_argument("--gallery", type=int, default=15913)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--no-reference", action="store_true", help="skip the slow argsort reference")
    ap.add_argument("--no-worst-case", action="store_true", help="skip the unstructured-features run")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    # the synthetic predictions leave a few samples without positives; li2016 would warn about each run
    warnings.simplefilter("ignore", UndefinedMetricWarning)
    with _blas_threads(args.threads):
        run_attributes(args.attr_samples, args.attr_repeats)
        run_bootstrap(args.bootstrap_samples, args.bootstrap_n)
        ok = run_reid(args.queries, args.gallery, args.dim, reference=not args.no_reference, structured=True)
        if not args.no_worst_case:
            ok = run_reid(args.queries, args.gallery, args.dim, reference=False, structured=False) and ok
    if not ok:
        print("\nERROR: results differ between implementations (see above)")
    return 0 if ok else 1


def _blas_threads(n: int) -> contextlib.AbstractContextManager:
    """Limit numpy's BLAS to ``n`` threads (the CPU distance products run there), if threadpoolctl is present."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(n)


if __name__ == "__main__":
    raise SystemExit(main())
