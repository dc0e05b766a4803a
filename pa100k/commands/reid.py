"""``python -m pa100k synth-reid`` (synthetic set → Market-1501 layout) and ``reid-summary`` (load and tabulate)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pa100k.cli import command


def _synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="folder to write (Market-1501 layout); must not exist or be empty")
    p.add_argument("--preset", default="small", choices=("tiny", "small", "full"), help="synthetic preset (default small)")
    p.add_argument("--seed", type=int, default=0, help="seed of the rendering and of the identity split (default 0)")
    p.add_argument("--render", default="reid", choices=("reid", "attributes"),
                   help="reid (default): the preset rendered with more multi-camera identities, as the synthetic_reid "
                        "dataset is; attributes: the attribute benchmark's render of the preset as it is")
    p.add_argument("--synthetic-root", type=Path, default=None,
                   help="the synthetic dataset folder, rendered there if missing (default: data_home()/synthetic/"
                        "<preset>[-reid-mc<percent>]-seed<seed>)")
    p.add_argument("--test-fraction", type=float, default=0.5, help="share of multi-camera identities used for testing")
    p.add_argument("--distractor-fraction", type=float, default=0.1, help="share of identities written as distractors (pid 0000)")
    p.add_argument("--junk-fraction", type=float, default=0.02, help="junk images (pid -1) per gallery image")
    p.add_argument("--single-camera", default="drop", choices=("drop", "distractor", "train"),
                   help="single-camera identities that are not distractors: left out (default), all written as "
                        "gallery distractors, or trained on")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


@command("synth-reid", "render the synthetic dataset and write its identities in the Market-1501 layout", _synth_args)
def synth_reid(args: argparse.Namespace) -> int:
    """Render (or reuse) the synthetic set, export it to ``--out`` and print the loaded summary."""
    import pa100k
    from pa100k.reid import SyntheticReIDConfig, export_market1501, load_market1501
    from pa100k.reid.synthetic import check_output_folder, coverage_table, load_reid_source, reid_coverage

    config = SyntheticReIDConfig(
        test_fraction=args.test_fraction, distractor_fraction=args.distractor_fraction,
        junk_fraction=args.junk_fraction, seed=args.seed, single_camera=args.single_camera,
    )
    check_output_folder(args.out, args.overwrite)  # fail before rendering
    if args.render == "reid":
        attribute_set = load_reid_source(args.preset, args.seed, args.synthetic_root)
    else:
        attribute_set = pa100k.load("synthetic", root=args.synthetic_root, preset=args.preset, seed=args.seed)
    result = export_market1501(attribute_set, args.out, config, overwrite=args.overwrite)
    print(f"wrote {args.out}: {result.num_train_ids} train / {result.num_test_ids} test / "
          f"{result.num_distractor_ids} distractor identities, {result.num_junk_images} junk images; "
          f"{result.num_dropped_ids} single-camera identities ({result.num_dropped_images} images) left out")
    print("source identities (cameras = scene and camera of the render):")
    print(coverage_table({"source": result.source}))
    exported = load_market1501(args.out)
    print(exported.summary())
    print("cameras per identity in the export (test = query + gallery, distractors left out):")
    print(coverage_table(reid_coverage(exported)))
    return 0


def _parse_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, found {text!r}")
    try:
        return key, int(value)
    except ValueError:
        return key, value


def _summary_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic_reid",
                   help="market1501, cuhk03, viper or synthetic_reid (default)")
    p.add_argument("--data-root", type=Path, default=None, help="dataset folder (default: data_home()/<dataset>)")
    p.add_argument("--option", "-o", action="append", type=_parse_option, default=[], metavar="KEY=VALUE",
                   help="loader option, repeatable: cuhk03 split=0..19 boxes=labeled|detected protocol=classic|new; "
                        "viper split=0..9 direction=a2b|b2a; synthetic_reid preset=tiny|small|full seed=0")


@command("reid-summary", "load a ReID dataset and print its train/query/gallery table", _summary_args)
def reid_summary(args: argparse.Namespace) -> int:
    """Print ``ReIDSet.summary()`` of one dataset."""
    from pa100k.reid import load_reid

    reidset = load_reid(args.dataset, args.data_root, **dict(args.option))
    print(reidset.summary())
    return 0
