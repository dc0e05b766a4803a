"""``python -m pa100k export-hf`` and ``push-hf``: a dataset as a Hugging Face folder, and its upload."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pa100k.cli import command


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["partition=1", "attributes=92", "zero_shot=true"]`` → loader keyword arguments (int, bool or str)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--option expects KEY=VALUE with a Python identifier as KEY, found {pair!r}")
        low = raw.lower()
        if low in ("true", "false"):
            out[key] = low == "true"
        else:
            try:
                out[key] = int(raw)
            except ValueError:
                out[key] = raw
    return out


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="registered dataset name (pa100k, peta, rap, rap2, synthetic, ...)")
    p.add_argument("--data-root", type=Path, default=None, help="dataset folder (default: the data home)")
    p.add_argument("--out", type=Path, required=True, help="output folder (README.md + data/*.parquet)")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="loader option, repeatable (e.g. -o partition=1 -o attributes=92)")
    p.add_argument("--label-format", choices=("columns", "sequence"), default="columns",
                   help="one bool column per attribute (default) or one fixed-length list 'labels'")
    p.add_argument("--max-shard-mb", type=float, default=500.0, help="image bytes per parquet shard (default 500)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")


@command("export-hf", "write a dataset as parquet shards + dataset card that datasets.load_dataset opens", _export_args)
def run_export(args: argparse.Namespace) -> int:
    """Load ``--dataset`` through the registry and export it."""
    import pa100k
    from pa100k.hf import export_hf

    data = pa100k.load(args.dataset, root=args.data_root, **parse_options(args.option))
    out = export_hf(data, args.out, label_format=args.label_format,
                    max_shard_bytes=int(args.max_shard_mb * 2**20), overwrite=args.overwrite)
    print(data.summary())
    print(f"wrote {out} (open with datasets.load_dataset({str(out)!r}))")
    return 0


def _push_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", type=Path, required=True, help="folder written by export-hf")
    p.add_argument("--repo-id", required=True, help="hub dataset repo, owner/name")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    p.add_argument("--message", default=None, help="commit message")
    p.add_argument("--dry-run", action="store_true", help="list the files that would be uploaded; no network")


@command("push-hf", "upload a folder written by export-hf to the Hugging Face hub", _push_args)
def run_push(args: argparse.Namespace) -> int:
    """Upload ``--dir`` to ``--repo-id`` (authentication as configured for huggingface_hub)."""
    from pa100k.hf import plan_push, push_hf

    if args.dry_run:
        for op in plan_push(args.dir):
            print(f"add {op.path_in_repo}")
        return 0
    info = push_hf(args.dir, args.repo_id, private=args.private, revision=args.revision, commit_message=args.message)
    print(f"pushed {args.dir} to {getattr(info, 'commit_url', args.repo_id)}")
    return 0
