"""``python -m leaderboard``: set up benchmarks and users, score and submit files, export and serve the board.

Every command works on one data folder: ``--root`` (default ``$LEADERBOARD_HOME`` or ``./leaderboard/data``)
holding the benchmarks' hidden labels, the submission files and the SQLite database (``--db`` takes another
database URL).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from leaderboard.benchmark import BENCHMARK_PRESETS, SYNTHETIC_TEST, build_preset, build_reid, parse_time
from leaderboard.service import ENV_HOME, InvalidSubmission, Leaderboard, pct
from leaderboard.store import DEFAULT_DAILY_QUOTA, AuthenticationError, QuotaExceeded
from pa100k.cli import CommandLine

Handler = Callable[[argparse.Namespace], int]


def _global_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, help=f"data folder (default ${ENV_HOME} or ./leaderboard/data)")
    parser.add_argument("--db", help="database URL (default sqlite:///<root>/leaderboard.sqlite3)")


CLI = CommandLine(
    "python -m leaderboard",
    "Leaderboard: set up benchmarks and users, score and submit files, export and serve the board.",
    global_arguments=_global_arguments, errors=(FileNotFoundError, ValueError, KeyError, PermissionError),
)
command = CLI.command


def _open(args: argparse.Namespace) -> Leaderboard:
    return Leaderboard(args.root, args.db)


def _print_scores(scores: dict) -> None:
    for part, res in scores.items():
        ci = res.get("ci", {})
        cells = []
        for k, v in res["metrics"].items():
            text = f"{k} {pct(v, '-')}"
            if k in ci:
                text += f" [{pct(ci[k]['low'])}, {pct(ci[k]['high'])}]"
            cells.append(text)
        label = res.get("convention") or res.get("protocol")
        print(f"{part:<8} ({res['n']} rows, {label}): " + ", ".join(cells))
        for conv, metrics in (res.get("conventions") or {}).items():
            print(f"{'':<8} {conv:>18}: " + ", ".join(f"{k} {pct(v, '-')}" for k, v in metrics.items()))


# ----------------------------------------------------------------------------------------------------


def _init_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="small", help="synthetic preset of the built-in benchmark (tiny for tests)")
    p.add_argument("--seed", type=int, default=0, help="synthetic dataset seed")
    p.add_argument("--partition-seed", help="seed of the public/private partition (default: random, kept secret)")


@command("init", "create the data folder and the built-in synthetic-test benchmark", _init_args)
def cmd_init(args: argparse.Namespace) -> int:
    lb = _open(args)
    bench = lb.init(preset=args.preset, seed=args.seed, partition_seed=args.partition_seed)
    if bench is None:
        print(f"{lb.root}: already initialised ({', '.join(lb.store.benchmark_names())})")
    else:
        print(f"{lb.root}: created benchmark {bench.name} ({bench.info.size} images, "
              f"{int(bench.hidden.public.sum())} public)")
    return 0


def _add_benchmark_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help=f"benchmark name; presets: {', '.join(BENCHMARK_PRESETS.names())}")
    p.add_argument("--preset", help="build from this preset (default: the name, when it is one)")
    p.add_argument("--dataset", help="attribute dataset of pa100k.load to take the split from (instead of a preset)")
    p.add_argument("--reid-dataset", help="ReID dataset of pa100k.reid.load_reid (query and gallery)")
    p.add_argument("--split", default="test", help="split of --dataset (default test)")
    p.add_argument("--data-root", type=Path, help="the dataset's folder (PA-100K: the one with annotation.mat)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="loader option (repeatable; values parsed as JSON when possible)")
    p.add_argument("--title", help="title shown on the board")
    p.add_argument("--description", help="description shown on the board")
    p.add_argument("--reference-dataset", help="paper dataset whose rows are shown beside the board (e.g. PA-100K)")
    p.add_argument("--public-fraction", type=float, default=0.5, help="share of images scored publicly (default 0.5)")
    p.add_argument("--partition-seed", help="seed of the public/private partition (default: random, kept secret)")
    p.add_argument("--reveal-at", help="when the private part is revealed (ISO date or date-time, UTC)")
    p.add_argument("--max-bytes", type=int, help="size cap of a submission file")
    p.add_argument("--bootstrap", type=int, help="bootstrap resamples for the 95%% intervals")
    p.add_argument("--replace", action="store_true", help="replace an existing benchmark of that name")


def _options(pairs: Sequence[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option must be KEY=VALUE, found {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@command("add-benchmark", "add a benchmark (a preset such as pa100k-test, or any dataset split)", _add_benchmark_args)
def cmd_add_benchmark(args: argparse.Namespace) -> int:
    lb = _open(args)
    given = {"title": args.title, "description": args.description, "reference_dataset": args.reference_dataset,
             "max_bytes": args.max_bytes, "bootstrap": args.bootstrap}
    kwargs = {k: v for k, v in given.items() if v is not None}
    kwargs.update(public_fraction=args.public_fraction, partition_seed=args.partition_seed,
                  reveal_at=parse_time(args.reveal_at, field_name="--reveal-at"))
    options = _options(args.option)
    if args.reid_dataset:
        bench = build_reid(args.name, args.reid_dataset, data_root=args.data_root, options=options, **kwargs)
    elif args.dataset:
        import pa100k
        from leaderboard.benchmark import attribute_benchmark

        data = pa100k.load(args.dataset, root=args.data_root, **options)
        bench = attribute_benchmark(args.name, data, args.split, source={
            "dataset": args.dataset, "split": args.split, "options": options}, **kwargs)
    else:
        preset = args.preset or args.name
        if preset not in BENCHMARK_PRESETS:
            raise KeyError(f"{preset!r} is not a benchmark preset ({', '.join(BENCHMARK_PRESETS.names())}); "
                           "give --dataset or --reid-dataset to build from a dataset")
        if preset == "pa100k-test":
            options.setdefault("check_images", False)  # only annotation.mat is needed
        bench = build_preset(preset, data_root=args.data_root, name=args.name, options=options, **kwargs)
    lb.add_benchmark(bench, replace=args.replace)
    print(f"added benchmark {bench.name}: {bench.info.task}, {bench.info.size} scored items "
          f"({int(bench.hidden.public.sum())} public), labels in {lb.root / 'benchmarks' / bench.name}")
    return 0


def _reveal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="benchmark name")
    p.add_argument("when", help="ISO date or date-time (UTC), 'now', or 'never'")


@command("reveal", "set when a benchmark's private part is revealed", _reveal_args)
def cmd_reveal(args: argparse.Namespace) -> int:
    from leaderboard.benchmark import format_time, utcnow

    key = args.when.strip().lower()
    when = utcnow() if key == "now" else None if key == "never" else parse_time(args.when, field_name="when")
    info = _open(args).set_reveal(args.name, when)
    print(f"{info.name}: private part revealed at {format_time(info.reveal_at) or 'no date (hidden)'}")
    return 0


def _add_user_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="user name (shown on the board)")
    p.add_argument("--quota", type=int, default=DEFAULT_DAILY_QUOTA, help=f"submissions per UTC day (default {DEFAULT_DAILY_QUOTA})")


@command("add-user", "add a user and print their token (shown once; only its hash is stored)", _add_user_args)
def cmd_add_user(args: argparse.Namespace) -> int:
    token = _open(args).store.add_user(args.name, args.quota)
    print(token)
    print(f"user {args.name!r} added with a daily quota of {args.quota}; keep the token above, it is not shown again",
          file=sys.stderr)
    return 0


def _score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("submission", type=Path, help="submission file")
    p.add_argument("--benchmark", "-b", default=SYNTHETIC_TEST, help=f"benchmark name (default {SYNTHETIC_TEST})")
    p.add_argument("--bootstrap", type=int, help="bootstrap resamples (default: the benchmark's)")
    p.add_argument("--json", action="store_true", help="print the report and scores as JSON")


@command("score", "validate and score a file on the server's labels without storing it", _score_args)
def cmd_score(args: argparse.Namespace) -> int:
    report, scores = _open(args).score_file(args.submission, args.benchmark, bootstrap=args.bootstrap)
    if args.json:
        print(json.dumps({"report": report.to_dict(), "scores": scores}, indent=2))
    else:
        print(report.to_text())
        if scores:
            _print_scores(scores)
    return 0 if report.ok else 1


def _submit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("submission", type=Path, help="submission file")
    p.add_argument("--benchmark", "-b", default=SYNTHETIC_TEST, help=f"benchmark name (default {SYNTHETIC_TEST})")
    p.add_argument("--token", required=True, help="your token (from add-user)")
    p.add_argument("--method", required=True, help="method name shown on the board")
    p.add_argument("--paper-url", default="", help="http(s) link to the paper or code")
    p.add_argument("--description", default="", help="a short description")


@command("submit", "validate, score and store a submission", _submit_args)
def cmd_submit(args: argparse.Namespace) -> int:
    lb = _open(args)
    try:
        result = lb.submit_file(args.submission, benchmark=args.benchmark, token=args.token, method=args.method,
                                paper_url=args.paper_url, description=args.description)
    except InvalidSubmission as exc:
        print(exc.report.to_text(), file=sys.stderr)
        return 1
    except (AuthenticationError, QuotaExceeded) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"submission {result.id} stored")
    _print_scores({"public": result.public})
    return 0


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--benchmark", "-b", help="only this benchmark")


@command("list", "list benchmarks and submissions", _list_args)
def cmd_list(args: argparse.Namespace) -> int:
    lb = _open(args)
    for info in lb.benchmarks():
        if args.benchmark and info.name != args.benchmark:
            continue
        revealed = "revealed" if info.revealed() else "hidden"
        print(f"{info.name} ({info.task}, {info.size} items, private part {revealed}): {info.title}")
    subs = lb.store.submissions(args.benchmark)
    if subs:
        print(f"{'id':>5}  {'benchmark':<16} {'user':<12} {'method':<24} {'public':>8}  date")
    for s in subs:
        primary = "mA" if "mA" in s.score.public["metrics"] else "rank1"
        print(f"{s.id:>5}  {s.benchmark:<16} {s.user:<12} {s.method[:24]:<24} {pct(s.score.public['metrics'][primary], '-'):>8}"
              f"  {s.created_at}")
    return 0


def _show_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", type=int, help="submission id")


@command("show", "show a submission: scores of both parts, report and score history", _show_args)
def cmd_show(args: argparse.Namespace) -> int:
    lb = _open(args)
    sub = lb.submission(args.id)
    print(f"submission {sub.id}: {sub.method} by {sub.user} on {sub.benchmark}, {sub.created_at}")
    print(f"file {sub.file_name} ({sub.format}) sha256 {sub.file_sha256}")
    if sub.paper_url:
        print(f"paper {sub.paper_url}")
    _print_scores({"public": sub.score.public, "private": sub.score.private})
    print("score history:")
    for h in lb.store.score_history(sub.id):
        mark = "*" if h.is_current else " "
        print(f" {mark} v{h.version} {h.created_at} {h.scorer} {h.reason}")
    return 0


def _rescore_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", type=int, nargs="*", help="submission ids (default: all)")
    p.add_argument("--benchmark", "-b", help="only this benchmark")
    p.add_argument("--reason", default="", help="why (stored with the new score version)")


@command("rescore", "score stored submissions again (a new score version each; history kept)", _rescore_args)
def cmd_rescore(args: argparse.Namespace) -> int:
    results = _open(args).rescore(benchmark=args.benchmark, ids=args.ids or None, reason=args.reason)
    for sid, version, message in results:
        print(f"submission {sid}: {message}" + (f" (version {version})" if version else ""))
    return 0 if all(v is not None for _, v, _ in results) else 1


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--benchmark", "-b", default=SYNTHETIC_TEST, help=f"benchmark name (default {SYNTHETIC_TEST})")
    p.add_argument("--format", choices=("csv", "markdown"), default="csv")
    p.add_argument("--part", choices=("public", "private"), help="default: private once revealed, else public")
    p.add_argument("-o", "--output", type=Path, help="write here instead of stdout")


@command("export", "the board as CSV or Markdown", _export_args)
def cmd_export(args: argparse.Namespace) -> int:
    text = _open(args).export(args.benchmark, args.format, args.part)
    if args.output:
        from pa100k.fileio import atomic_write

        with atomic_write(args.output) as fh:
            fh.write(text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--preset", default="small", help="synthetic preset used if the data folder is new")


@command("serve", "run the web app (initialises a new data folder first)", _serve_args)
def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from leaderboard.web import create_app
    except ImportError as exc:
        raise ValueError(f"serve needs the server extra (pip install 'pa100k-bench[server]'): {exc}") from None
    lb = _open(args)
    if lb.init(preset=args.preset) is not None:
        print(f"initialised {lb.root} with the {SYNTHETIC_TEST} benchmark")
    print(f"serving {lb.root} on http://{args.host}:{args.port}/")
    uvicorn.run(create_app(lb), host=args.host, port=args.port, log_level="info")
    return 0


@command("check", "check the store: database integrity and every submission file against its hash")
def cmd_check(args: argparse.Namespace) -> int:
    lb = _open(args)
    removed = lb.recover()
    problems = lb.verify()
    counts = lb.store.counts()
    print(", ".join(f"{k} {v}" for k, v in counts.items()) + f"; stale uploads removed: {removed}")
    for p in problems:
        print(f"problem: {p}")
    return 1 if problems else 0


# ----------------------------------------------------------------------------------------------------


build_parser = CLI.build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m leaderboard``."""
    return CLI.main(argv)


if __name__ == "__main__":
    sys.exit(main())
