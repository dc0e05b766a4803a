"""Split quality of pa100k.splits and tracklet-recovery precision/recall of pa100k.tracklets, on the synthetic set.

    python -m benchmarks.perf.splits                      # synthetic small (rendered on first use), plus full-size labels
    python -m benchmarks.perf.splits --preset tiny --no-full --json figures.json

Splits: for :func:`tracklet_split` and :func:`identity_split` the time, each split's share of the images
against the 8:1:1 ratios (percentage points), the fewest positive and negative images of any attribute in
any split (and the per-attribute table), the largest positive-ratio difference between a split and the
whole set, and the tracklets / identities found in two splits (must be 0). The ``full`` preset's labels and
tracklets (100,000 images, 18,206 tracklets; planned, not rendered) measure the speed at the paper's size.

Recovery: :func:`pa100k.tracklets.infer` on the rendered images, once in release order (the synthetic
release, like the real one, lists a tracklet's frames one after another) and once with the file names
shuffled (a release whose order says nothing); pairwise precision and recall against the true tracklets
(and identities), and how many estimated tracklets span two official splits where truly none does, which
is the false-alarm level to read the real release's count against.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import time

import numpy as np

import pa100k
from pa100k.splits import SPLIT_KEYS, format_split_report, identity_split, spanning_groups, split_report, tracklet_split
from pa100k.synthetic.render import plan_dataset
from pa100k.tracklets import TrackletConfig, image_descriptors, infer, pairwise_precision_recall

RATIOS = (8, 1, 1)


def split_figures(aset: pa100k.AttributeSet, splitter, seed: int) -> tuple[dict, object]:
    """Run ``splitter`` on ``aset`` and measure the result; returns (figures, report)."""
    start = time.perf_counter()
    splits = splitter(aset, ratios=RATIOS, seed=seed)
    seconds = time.perf_counter() - start
    report = split_report(aset, splits, ratios=RATIOS)
    figures = {
        "seconds": round(seconds, 3),
        "images": report.attrs["images"],
        "share_error_pp": {k: round(v, 4) for k, v in report.attrs["share_error_pp"].items()},
        "max_share_error_pp": round(report.attrs["max_share_error_pp"], 4),
        "min_positives": report.attrs["min_positives"],
        "min_negatives": report.attrs["min_negatives"],
        "min_positives_per_split": {k: int(report[f"{k}_pos"].min()) for k in SPLIT_KEYS},
        "missing": len(report.attrs["missing"]),
        "max_positive_ratio_diff_pp": round(100 * float(np.nanmax(report["max_ratio_diff"])), 3),
        "tracklets_in_two_splits": len(spanning_groups(aset.meta["tracklet"], splits)),
        "identities_in_two_splits": len(spanning_groups(aset.meta["identity"], splits)),
    }
    return figures, report


def recovery_figures(aset: pa100k.AttributeSet, descriptors: np.ndarray, config: TrackletConfig) -> dict:
    """Infer tracklets and score them against the truth in ``aset.meta``."""
    start = time.perf_counter()
    estimated = infer(aset, config=config, descriptors=descriptors)
    seconds = time.perf_counter() - start
    precision, recall = pairwise_precision_recall(estimated, aset.meta["tracklet"])
    id_precision, id_recall = pairwise_precision_recall(estimated, aset.meta["identity"])
    return {
        "seconds_linking": round(seconds, 2),
        "estimated_tracklets": int(estimated.max()) + 1,
        "true_tracklets": len(np.unique(aset.meta["tracklet"])),
        "pairwise_precision": round(precision, 4),
        "pairwise_recall": round(recall, 4),
        "identity_pairwise_precision": round(id_precision, 4),
        "identity_pairwise_recall": round(id_recall, 4),
        "estimated_spanning_official_splits": len(spanning_groups(estimated, aset.splits)),
        "true_spanning_official_splits": len(spanning_groups(aset.meta["tracklet"], aset.splits)),
    }


def _print_split(title: str, figures: dict) -> None:
    print(f"\n{title}: {figures['seconds']:.2f} s")
    print("  images " + ", ".join(
        f"{k} {figures['images'][k]} ({figures['share_error_pp'][k]:+.3f} pp)" for k in SPLIT_KEYS))
    print(f"  largest share error {figures['max_share_error_pp']:.3f} pp (tolerance 0.5)")
    print(f"  fewest positives of an attribute per split {figures['min_positives_per_split']}, "
          f"fewest negatives {figures['min_negatives']}, missing {figures['missing']}")
    print(f"  largest positive-ratio difference from the whole set {figures['max_positive_ratio_diff_pp']:.2f} pp")
    print(f"  tracklets in two splits {figures['tracklets_in_two_splits']}, "
          f"identities in two splits {figures['identities_in_two_splits']}")


def main(argv: list[str] | None = None) -> int:
    """Measure and print the figures; optionally write them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", help="synthetic preset to render and measure (default small)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-full", action="store_true", help="skip the split timing on the full preset's labels")
    parser.add_argument("--no-recovery", action="store_true", help="skip tracklet recovery")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    figures: dict = {"preset": args.preset, "seed": args.seed, "cpus": os.cpu_count()}

    aset = pa100k.load("synthetic", preset=args.preset, seed=args.seed)
    n_tracklets = len(np.unique(aset.meta["tracklet"]))
    print(f"synthetic {args.preset} (seed {args.seed}): {len(aset)} images, {n_tracklets} tracklets, "
          f"{len(np.unique(aset.meta['identity']))} identities")
    figures["tracklet_split"], report = split_figures(aset, tracklet_split, args.seed)
    _print_split("tracklet_split", figures["tracklet_split"])
    print(format_split_report(report))
    figures["identity_split"], _ = split_figures(aset, identity_split, args.seed)
    _print_split("identity_split", figures["identity_split"])

    if not args.no_full:
        start = time.perf_counter()
        full = plan_dataset("full", seed=args.seed).attribute_set()
        print(f"\nfull preset labels ({len(full)} images, {len(np.unique(full.meta['tracklet']))} tracklets, "
              f"planned in {time.perf_counter() - start:.1f} s, not rendered)")
        figures["full_tracklet_split"], _ = split_figures(full, tracklet_split, args.seed)
        _print_split("tracklet_split, full", figures["full_tracklet_split"])
        figures["full_identity_split"], _ = split_figures(full, identity_split, args.seed)
        _print_split("identity_split, full", figures["full_identity_split"])

    if not args.no_recovery:
        config = TrackletConfig()
        start = time.perf_counter()
        descriptors = image_descriptors(aset, config=config)
        seconds = time.perf_counter() - start
        print(f"\ntracklet recovery (descriptors: {seconds:.1f} s, {1000 * seconds / len(aset):.2f} ms/image)")
        figures["recovery_descriptor_seconds"] = round(seconds, 1)
        shuffled = dataclasses.replace(aset, names=aset.names[np.random.default_rng(args.seed).permutation(len(aset))])
        for key, data in (("release_order", aset), ("shuffled_names", shuffled)):
            fig = recovery_figures(data, descriptors, config)
            figures[f"recovery_{key}"] = fig
            print(f"  {key}: {fig['estimated_tracklets']} estimated / {fig['true_tracklets']} true tracklets, "
                  f"pairwise precision {fig['pairwise_precision']:.4f}, recall {fig['pairwise_recall']:.4f} "
                  f"(identities: {fig['identity_pairwise_precision']:.4f} / {fig['identity_pairwise_recall']:.4f}); "
                  f"spanning official splits: estimated {fig['estimated_spanning_official_splits']}, "
                  f"true {fig['true_spanning_official_splits']}; linking {fig['seconds_linking']:.1f} s")
    if args.json:
        with pa100k.atomic_write(args.json) as fh:
            json.dump(figures, fh, indent=1)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
