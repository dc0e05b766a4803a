"""``python -m pa100k split`` (tracklet-aware / identity-disjoint splits) and ``python -m pa100k tracklets``."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from pa100k import splits as splitting
from pa100k import tracklets
from pa100k.cli import command
from pa100k.datasets import load
from pa100k.fileio import atomic_write


def _dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", type=Path, required=True, help="dataset folder (PA-100K layout: annotation.mat, data/)")
    p.add_argument("--dataset", default="pa100k", help="registered dataset loader (default: pa100k)")


def _split_args(p: argparse.ArgumentParser) -> None:
    _dataset_args(p)
    p.add_argument("--out", type=Path, help="write the splits as JSON (image names per split)")
    p.add_argument("--by", default="tracklet", choices=splitting.SPLITTERS.names(),
                   help="group images by tracklet (PA-100K protocol, default) or identity (zero-shot)")
    p.add_argument("--ratios", type=float, nargs=3, default=(8.0, 1.0, 1.0), metavar=("TRAIN", "VAL", "TEST"),
                   help="relative sizes in images (default 8 1 1)")
    p.add_argument("--seed", type=int, default=0, help="orders ties between equivalent groups (default 0)")
    p.add_argument("--infer-tracklets", action="store_true",
                   help="estimate tracklets from labels and appearance when the release has none (pa100k.tracklets.infer)")
    p.add_argument("--from-json", type=Path, help="use the splits in this JSON instead of computing new ones")
    p.add_argument("--write-annotation", action="store_true",
                   help="rewrite DATA_ROOT/annotation.mat with the new splits (the first original is kept as annotation.orig.mat)")


@command("split", "tracklet-aware (or identity-disjoint) train/val/test split with every label in every split", _split_args)
def run_split(args: argparse.Namespace) -> int:
    """Compute (or read) a split, print its report, write it as JSON and/or into annotation.mat."""
    aset = load(args.dataset, root=args.data_root)
    if args.from_json is not None:
        result = splitting.load_splits_json(args.from_json, aset)
        method = f"from {args.from_json}"
    else:
        splitter = splitting.SPLITTERS.get(args.by)
        options: dict = {}
        if args.infer_tracklets:
            if args.by != "tracklet":
                raise ValueError(f"--infer-tracklets goes with --by tracklet, found --by {args.by}")
            print("estimating tracklets from labels and appearance ...")
            options["groups"] = tracklets.infer(aset)
            print(f"  {int(options['groups'].max()) + 1} estimated tracklets")
        result = splitter(aset, ratios=tuple(args.ratios), seed=args.seed, **options)
        method = f"{args.by}{' (inferred)' if args.infer_tracklets else ''}"
    report = splitting.split_report(aset, result, ratios=args.ratios)
    print(f"{aset.dataset} at {args.data_root}: {len(aset)} images, split by {method}")
    print(splitting.format_split_report(report))
    if args.out is not None:
        splitting.save_splits_json(args.out, aset, result, seed=args.seed, ratios=args.ratios, method=method)
        print(f"wrote {args.out}")
    if args.write_annotation:
        path = splitting.write_splits_to_annotation(args.data_root, aset, result)
        print(f"rewrote {path}")
    return 0


def _tracklets_args(p: argparse.ArgumentParser) -> None:
    _dataset_args(p)
    p.add_argument("--out", type=Path, help="write image,estimated_tracklet as CSV")
    p.add_argument("--neighbours", type=int, default=tracklets.TrackletConfig.neighbours,
                   help="k of the mutual nearest-neighbour links (0: only links in name order)")
    p.add_argument("--max-label-distance", type=int, default=tracklets.TrackletConfig.max_label_distance,
                   help="labels that linked images may disagree on (viewpoint not counted)")


@command("tracklets", "estimate tracklets from labels and appearance; count those that span two official splits", _tracklets_args)
def run_tracklets(args: argparse.Namespace) -> int:
    """Infer tracklets over every image and report how many cross the dataset's own splits."""
    aset = load(args.dataset, root=args.data_root)
    if not any(k in aset.splits for k in splitting.SPLIT_KEYS):
        raise ValueError(f"{args.data_root}: dataset {args.dataset!r} has no train/val/test splits to check")
    config = tracklets.TrackletConfig(neighbours=args.neighbours, max_label_distance=args.max_label_distance)
    estimated = tracklets.infer(aset, config=config)
    n_est = int(estimated.max()) + 1 if len(estimated) else 0
    spanning = splitting.spanning_groups(estimated, aset.splits)
    in_spanning = int(np.isin(estimated, spanning).sum())
    print(f"{aset.dataset} at {args.data_root}: {len(aset)} images")
    print(f"estimated tracklets: {n_est} (mean {len(aset) / max(n_est, 1):.2f} images each)")
    print(f"estimated tracklets spanning two or more splits: {len(spanning)} ({in_spanning} images)")
    if "tracklet" in aset.meta:
        precision, recall = tracklets.pairwise_precision_recall(estimated, aset.meta["tracklet"])
        true_spanning = splitting.spanning_groups(aset.meta["tracklet"], aset.splits)
        print(f"true tracklets: {len(np.unique(aset.meta['tracklet']))}, spanning two or more splits: {len(true_spanning)}")
        print(f"pairwise precision {precision:.4f}, recall {recall:.4f}")
    if args.out is not None:
        with atomic_write(args.out) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["image", "estimated_tracklet"])
            writer.writerows(zip(aset.names.tolist(), estimated.tolist()))
        print(f"wrote {args.out}")
    return 0
