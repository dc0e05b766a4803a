"""Render throughput of the synthetic set, and the time the ``full`` preset takes (issue: < 10 min on 2 cores).

    python benchmarks/perf/render.py                     # full, estimated from a sample of whole cameras
    python benchmarks/perf/render.py --preset small --all  # render a whole preset and time it

The estimate for ``full`` renders every tracklet of randomly chosen cameras (one background per camera,
as the real run) until ``--sample`` images are done, with ``--workers`` processes, and adds the measured
planning time and the time to write annotation.mat and tracklets.csv for all 100,000 images.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from pa100k.synthetic.presets import PRESETS
from pa100k.synthetic.render import plan_dataset, render_dataset, render_images, write_annotation, write_tracklets


def _sample_tracklets(plan, sample: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    starts = plan.tracklet_start[:-1]
    cam_of_tracklet = plan.camera[starts]
    chosen: list[int] = []
    n = 0
    for cam in rng.permutation(np.unique(cam_of_tracklet)):
        ts = np.flatnonzero(cam_of_tracklet == cam)
        chosen.extend(int(t) for t in ts)
        n += int(np.diff(plan.tracklet_start)[ts].sum())
        if n >= sample:
            break
    return chosen


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    """Print images/s and the estimated (or measured) time of a preset."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="full", choices=PRESETS.names())
    ap.add_argument("--workers", type=int, default=2, help="processes (default 2: the issue's target machine)")
    ap.add_argument("--sample", type=int, default=2000, help="images rendered for the estimate (default 2000)")
    ap.add_argument("--all", action="store_true", help="render the whole preset instead of estimating")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}, workers: {args.workers}, preset: {args.preset}, seed: {args.seed}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.all:
            t0, c0 = time.perf_counter(), _cpu_seconds()
            render_dataset(Path(tmp) / "out", args.preset, args.seed, workers=args.workers, progress=False)
            dt, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
            n = PRESETS.get(args.preset).num_images
            print(f"MEASURED {args.preset}: {n} images in {dt:.1f} s = {n / dt:.0f} images/s "
                  f"(plan + render + annotation, {args.workers} workers); CPU time {cpu:.1f} s = "
                  f"{n / cpu:.0f} images per CPU-second; load average now {os.getloadavg()[0]:.1f}")
            return 0
        t0, c0 = time.perf_counter(), _cpu_seconds()
        plan = plan_dataset(args.preset, args.seed)
        t_plan, c_plan = time.perf_counter() - t0, _cpu_seconds() - c0
        tracklets = _sample_tracklets(plan, args.sample, args.seed)
        t0, c0 = time.perf_counter(), _cpu_seconds()
        n = render_images(plan, Path(tmp) / "data", workers=args.workers, tracklets=tracklets, progress=False)
        t_render, c_render = time.perf_counter() - t0, _cpu_seconds() - c0
        t0, c0 = time.perf_counter(), _cpu_seconds()
        write_annotation(plan, Path(tmp) / "annotation.mat")
        write_tracklets(plan, Path(tmp) / "tracklets.csv")
        t_write, c_write = time.perf_counter() - t0, _cpu_seconds() - c0
    rate = n / t_render
    total = t_plan + plan.num_images / rate + t_write
    cams = len(set(plan.camera[plan.tracklet_start[tracklets]].tolist()))
    print(f"MEASURED sample: {n} images of {len(tracklets)} tracklets in {cams} cameras rendered in {t_render:.1f} s "
          f"= {rate:.0f} images/s ({args.workers} workers)")
    print(f"MEASURED plan (labels, tracklets, split): {t_plan:.1f} s (CPU {c_plan:.1f} s); "
          f"annotation.mat + tracklets.csv: {t_write:.1f} s (CPU {c_write:.1f} s)")
    print(f"ESTIMATED {args.preset}: {plan.num_images} images in {total:.0f} s = {total / 60:.1f} min "
          f"(wall clock extrapolated from the sample; target < 10 min on 2 cores)")
    cpu_rate = n / c_render
    dedicated = c_plan + plan.num_images / (cpu_rate * args.workers) + c_write
    print(f"MEASURED CPU time of the sample: {c_render:.1f} s = {cpu_rate:.0f} images per CPU-second; "
          f"load average now {os.getloadavg()[0]:.1f}")
    print(f"ESTIMATED {args.preset} on {args.workers} dedicated cores (CPU time / {args.workers}, for a busy machine): "
          f"{dedicated:.0f} s = {dedicated / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
