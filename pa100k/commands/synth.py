"""``python -m pa100k synth`` (render the synthetic set) and ``preview`` (contact sheet + positive ratios)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pa100k.cli import command


def _synth_args(p: argparse.ArgumentParser) -> None:
    from pa100k.synthetic.presets import PRESETS

    p.add_argument("--preset", default="small", choices=PRESETS.names(), help="size of the set (default: small)")
    p.add_argument("--out", required=True, type=Path, help="folder to create (must not exist or be empty)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same preset and seed: same labels and pixels)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


@command("synth", "render the synthetic PA-100K-like set in the official layout", _synth_args)
def synth(args: argparse.Namespace) -> int:
    from pa100k.synthetic.render import marker, render_dataset

    t0 = time.perf_counter()
    try:
        out = render_dataset(args.out, args.preset, args.seed, workers=args.workers)
    except FileExistsError as exc:
        raise ValueError(str(exc)) from None
    info = marker(out) or {}
    dt = time.perf_counter() - t0
    n = info.get("num_images", 0)
    print(f"wrote {out}: {n} images ({info.get('splits')}), {info.get('num_tracklets')} tracklets, "
          f"{info.get('num_identities')} identities, {info.get('num_cameras')} cameras in {info.get('num_scenes')} scenes; "
          f"{dt:.1f} s ({n / max(dt, 1e-9):.0f} images/s)")
    return 0


def _preview_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic", help="registered dataset name (default: synthetic)")
    p.add_argument("--root", type=Path, default=None, help="dataset folder (default: the data home's)")
    p.add_argument("--out", required=True, type=Path, help="contact sheet PNG to write")
    p.add_argument("--ratios", type=Path, default=None, help="bar chart PNG (default: <out stem>_ratios.png)")
    p.add_argument("--attribute", default=None, help="show this attribute's positives and negatives side by side")
    p.add_argument("--split", default=None, help="images of this split only (default: all)")
    p.add_argument("--count", type=int, default=48, help="crops on the sheet (default: 48)")
    p.add_argument("--columns", type=int, default=12, help="crops per row (default: 12)")
    p.add_argument("--size", default="64x128", help="crop size WxH before enlarging (default: 64x128)")
    p.add_argument("--scale", type=int, default=2, help="enlargement of each crop, nearest neighbour (default: 2)")
    p.add_argument("--preset", default=None, help="synthetic only: preset (default: small)")
    p.add_argument("--seed", type=int, default=None, help="synthetic only: seed of the render (default: 0)")
    p.add_argument("--sample-seed", type=int, default=0, help="which crops are drawn (default: 0)")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must be WIDTHxHEIGHT such as 64x128, found {text!r}") from None
    if w < 8 or h < 8:
        raise ValueError(f"--size must be at least 8x8, found {text!r}")
    return w, h


@command("preview", "draw a contact sheet of a dataset and a bar chart of its positive ratios per split", _preview_args)
def preview(args: argparse.Namespace) -> int:
    import pa100k
    from pa100k.preview import ratio_chart, save_contact_sheet

    options = {k: v for k, v in (("preset", args.preset), ("seed", args.seed)) if v is not None}
    try:
        aset = pa100k.load(args.dataset, root=args.root, **options)
    except TypeError as exc:
        raise ValueError(f"dataset {args.dataset!r} does not take {sorted(options)}: {exc}") from None
    sheet = save_contact_sheet(aset, args.out, count=args.count, columns=args.columns, split=args.split,
                               attribute=args.attribute, size=_size(args.size), scale=args.scale, seed=args.sample_seed)
    ratios = args.ratios or args.out.with_name(f"{args.out.stem}_ratios.png")
    from pa100k.synthetic.priors import PA100K_RATIOS  # the release's train ratios (FORMATS.md), as ticks

    ratio_chart(aset, ratios, reference=PA100K_RATIOS if aset.schema.name == "pa100k" else None,
                reference_label="PA-100K train (approx.)")
    print(f"wrote {sheet} and {ratios}")
    print(aset.summary())
    return 0
