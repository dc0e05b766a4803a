"""``python -m benchmarks.run --method hpnet``: train and evaluate methods on a dataset, write a run folder.

``torchrun --nproc_per_node N -m benchmarks.run ...`` trains the learned methods with DistributedDataParallel
(N processes, NCCL on GPUs, gloo on CPU), for ``--task attributes`` and ``--task reid`` alike; batch sizes are
per process and rank 0 writes the run folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from benchmarks.datasets import BENCHMARK_DATASETS
from benchmarks.methods import METHODS
from benchmarks.methods.base import PRESETS
from hpnet import distributed


def _override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, found {text!r}")
    key, value = text.split("=", 1)
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    return key, value


def build_parser() -> argparse.ArgumentParser:
    """The runner's arguments."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--method", required=True,
                   help=f"NAME[,NAME...] or all; registered: {', '.join(METHODS.names())}")
    p.add_argument("--task", choices=("attributes", "reid"), default="attributes", help="attribute recognition (Table 2) or ReID (Table 4)")
    p.add_argument("--dataset", default=None,
                   help=f"attributes: {', '.join(BENCHMARK_DATASETS.names())} (default synthetic); "
                        "reid: synthetic_reid (default), market1501, cuhk03, viper, or a comma list for JSTL")
    p.add_argument("--data-root", default=None, help="folder of the official release (not needed for synthetic)")
    p.add_argument("--data-preset", default="small", choices=("tiny", "small", "full"), help="synthetic data size (default small)")
    p.add_argument("--preset", default="cpu", choices=PRESETS, help="model/training size: cpu (default), paper (GPU), tiny (tests)")
    p.add_argument("--out", default=None, help="run folder (default runs/<dataset>-<method>-<timestamp>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--resume", action="store_true", help="continue the run folder given by --out")
    p.add_argument("--weights", default=None, help="local ImageNet weights file (FC6/FC7-mm need one)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for the 95%% intervals")
    p.add_argument("--set", dest="overrides", action="append", type=_override, default=[], metavar="KEY=VALUE",
                   help="override a method hyper-parameter, e.g. --set epochs=2")
    p.add_argument("--attention-config", default=None,
                   help="MDA paths of the paper's Fig. 6: full, naive, no_middle, prune_one, prune_two")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (under torchrun, of every process)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("PIL").setLevel(logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    if args.attention_config:
        args.overrides.append(("attention_config", args.attention_config))
    try:
        started = distributed.init_from_env(args.device)
    except ValueError as exc:
        if os.environ.get("RANK", "0") == "0":
            print(f"error: {exc}", file=sys.stderr)
        return 2
    if not distributed.is_main():
        logging.getLogger().setLevel(logging.WARNING)  # rank 0 tells the story
    try:
        return _main(args)
    finally:
        if started:
            distributed.cleanup()


def _main(args: argparse.Namespace) -> int:
    try:
        if args.task == "reid":
            from benchmarks.reid_runner import ReIDRunConfig, run_reid_benchmark

            out = run_reid_benchmark(ReIDRunConfig(
                methods=args.method, dataset=args.dataset or "synthetic_reid", data_root=args.data_root,
                data_preset=args.data_preset, preset=args.preset, seed=args.seed, device=args.device,
                out=args.out, resume=args.resume, progress=not args.no_progress, overrides=dict(args.overrides),
                n_bootstrap=args.bootstrap))
        else:
            from benchmarks.runner import RunConfig, run_benchmark

            out = run_benchmark(RunConfig(
                methods=args.method, dataset=args.dataset or "synthetic", data_root=args.data_root,
                data_preset=args.data_preset, preset=args.preset, seed=args.seed, device=args.device, out=args.out,
                resume=args.resume, weights=args.weights, n_bootstrap=args.bootstrap, progress=not args.no_progress,
                overrides=dict(args.overrides)))
    except (KeyError, ValueError, FileNotFoundError, FileExistsError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        if distributed.is_main():  # under torchrun every rank raised the same error
            print(f"error: {msg}", file=sys.stderr)
        return 2
    if distributed.is_main():
        print(f"run folder: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
