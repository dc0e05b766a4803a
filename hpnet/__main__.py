"""``python -m hpnet``: predict, attention maps, ONNX export, cost summary and stage-wise training."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pa100k.cli import CommandLine

CLI = CommandLine("python -m hpnet", "HydraPlus-Net: predict, export, summary, train.")
command = CLI.command


# ------------------------------------------------------------------------------------------------ predict
def _predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder (config.json + model.safetensors) or Hub id")
    p.add_argument("--out", required=True, help="CSV to write: image, then one probability column per attribute")
    p.add_argument("--attention-maps", metavar="DIR", help="also write one attention-map PNG per image here (HP-net only)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


@command("predict", "attribute probabilities for images, in the leaderboard's CSV format", _predict_args)
def _predict(args: argparse.Namespace) -> int:
    from hpnet.predict import predict_images, write_predictions_csv
    from hpnet.registry import load_pretrained

    model = load_pretrained(args.checkpoint)
    preds = predict_images(model, args.images, batch_size=args.batch_size, device=args.device)
    write_predictions_csv(preds, args.out)
    print(f"wrote {len(preds.names)} rows x {len(preds.attributes)} attributes to {args.out}")
    if args.attention_maps:
        from hpnet.attention_maps import write_attention_maps

        written = write_attention_maps(model, args.images, args.attention_maps,
                                       device="cpu" if args.device == "auto" else args.device)
        print(f"wrote {len(written)} attention figures to {args.attention_maps}")
    return 0


# ------------------------------------------------------------------------------------------------- export
def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint folder or Hub id")
    p.add_argument("--onnx", required=True, help="ONNX file to write")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--atol", type=float, default=1e-4, help="largest allowed |onnxruntime - PyTorch| on the logits")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")


@command("export", "export a checkpoint to ONNX and check it with onnxruntime", _export_args)
def _export(args: argparse.Namespace) -> int:
    from hpnet.export import check_onnx, export_onnx
    from hpnet.registry import load_pretrained

    model = load_pretrained(args.checkpoint)
    path = export_onnx(model, args.onnx, opset=args.opset)
    print(f"wrote {path}")
    if not args.no_check:
        check = check_onnx(model, path, atol=args.atol)
        print(f"onnxruntime matches PyTorch: max |diff| = {check.max_abs_diff:.2e} (atol {args.atol:g})")
    return 0


# ------------------------------------------------------------------------------------------------ summary
def _summary_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", action="append", help="preset(s) to show (default: all)")
    p.add_argument("--num-classes", type=int, default=26)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


@command("summary", "parameters and multiply-adds of M-net and HP-net per preset", _summary_args)
def _summary(args: argparse.Namespace) -> int:
    from hpnet.summary import format_table, summarize

    rows = summarize(args.preset, num_classes=args.num_classes)
    print(json.dumps([r.to_dict() for r in rows], indent=1) if args.json else format_table(rows))
    return 0


# -------------------------------------------------------------------------------------------------- train
def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="a registered dataset (pa100k.list_datasets())")
    p.add_argument("--root", help="dataset folder (default: the data home)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset option, e.g. preset=small (repeatable)")
    p.add_argument("--preset", default="cpu", help="training preset: paper, half, cpu, tiny")
    p.add_argument("--out", required=True, help="output folder (mnet/, hpnet/, train_state.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--mnet-only", action="store_true")
    p.add_argument("--end-to-end", action="store_true")
    p.add_argument("--num-workers", type=int, default=0)


@command("train", "stage-wise training of M-net and HP-net on a registered dataset", _train_args)
def _train(args: argparse.Namespace) -> int:
    import pa100k
    from hpnet.train import train_stagewise

    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--option must be KEY=VALUE, found {item!r}")
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    aset = pa100k.load(args.dataset, root=args.root, **options)
    result = train_stagewise(aset, preset=args.preset, out_dir=args.out, seed=args.seed, device=args.device,
                             resume=args.resume, mnet_only=args.mnet_only, end_to_end=args.end_to_end,
                             num_workers=args.num_workers)
    for name, rec in result.stages.items():
        print(f"{name:<10} {rec.seconds:8.1f} s  best epoch {rec.best_epoch}  val mA {rec.best_val_mA:.4f}")
    print(f"checkpoints: {result.mnet_dir}" + (f", {result.hpnet_dir}" if result.hpnet_dir else ""))
    return 0


# ------------------------------------------------------------------------------------------------- main
build_parser = CLI.build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m hpnet``; errors in the input print one line and exit with status 2."""
    return CLI.main(argv)


if __name__ == "__main__":
    sys.exit(main())
