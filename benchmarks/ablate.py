"""``python -m benchmarks.ablate --task reid``: the component analysis of Fig. 6(a) (§4.3) on one dataset.

Six configurations, all from one M-net and stage-wise trained MDA modules (a module depends only on its
attention level and directions, so configurations share the modules they have in common):

- M-net (yellow): no attention;
- naive (blue): one naïve attention per branch, F̃^{i,i} only;
- no_middle (cyan): the second block's attention maps and attentive features discarded;
- prune_one (purple): 𝓕(α¹) discarded;
- prune_two (light purple): 𝓕(α¹) and 𝓕(α²) discarded;
- full (orange): the complete AF-net, all nine paths.

The run folder holds ``ablation.png`` (top-1 per configuration as horizontal bars with the paper's 3×3 path
glyphs, 95% bootstrap intervals), ``ablation.csv``, ``metrics.json`` (one row per configuration, for
``benchmarks.report``), ``config.json``, ``cmc.png``, ``ranked_list.png`` and ``log.txt``. The paper ran it on
VIPeR (``--dataset viper --data-root ...``); the default is the synthetic ReID set.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.rundir import add_file_log, environment, write_json
from pa100k.fileio import atomic_write
from pa100k.registry import Registry

log = logging.getLogger(__name__)

# Settings that must match for --resume to continue an ablation folder.
RESUME_KEYS = ("task", "dataset", "data_root", "data_preset", "preset", "seed", "configs", "overrides")
# The rows of the ranked-list figure: the complete network against the naive and single-MDA ones (Fig. 6(b-c)).
RANKED_CONFIGS = ("naive", "prune_two", "full")


@dataclass(frozen=True)
class AblationConfig:
    """One bar of Fig. 6(a): name, legend label, colour, and the MDA path set (None: M-net, no attention)."""

    name: str
    label: str
    color: str
    ablation: str | None  # a hpnet.config.MDA_ABLATIONS name


FIG6_CONFIGS: tuple[AblationConfig, ...] = (
    AblationConfig("mnet", "M-net", "#f2d22e", None),
    AblationConfig("naive", "naive attention per branch", "#3b6fd4", "naive"),
    AblationConfig("no_middle", "no middle-level attention", "#35c4d6", "no_middle"),
    AblationConfig("prune_one", "one MDA module pruned", "#7b3fa8", "prune_one"),
    AblationConfig("prune_two", "two MDA modules pruned", "#c7a0e0", "prune_two"),
    AblationConfig("full", "HP-net (complete AF-net)", "#f08a24", "full"),
)
CONFIGS: Registry[AblationConfig] = Registry("Fig. 6 configuration")
for _c in FIG6_CONFIGS:
    CONFIGS.add(_c.name, _c)


@dataclass
class AblationRunConfig:
    """An ablation run's settings, as written to config.json (``run``)."""

    task: str = "reid"
    dataset: str = "synthetic_reid"
    data_root: str | None = None
    data_preset: str = "small"
    preset: str = "cpu"
    seed: int = 0
    device: str = "auto"
    out: str | None = None
    resume: bool = False
    progress: bool = True
    configs: list[str] = field(default_factory=lambda: [c.name for c in FIG6_CONFIGS])
    overrides: dict[str, Any] = field(default_factory=dict)
    n_bootstrap: int = 1000


ABLATION_TASKS: Registry[Callable[[AblationRunConfig], Path]] = Registry("ablation task")


@ABLATION_TASKS.register("reid")
def run_reid_ablation(cfg: AblationRunConfig) -> Path:
    """Train and score the Fig. 6(a) configurations on ``cfg.dataset``; returns the run folder."""
    from benchmarks.reid_runner import default_out, parse_datasets
    from benchmarks.rundir import prepare_out

    configs = [CONFIGS.get(name) for name in cfg.configs]
    if not configs:
        raise ValueError(f"--configs is empty; valid: {', '.join(c.name for c in FIG6_CONFIGS)}")
    if "attention_config" in cfg.overrides:
        raise ValueError("--set attention_config: the ablation chooses the attention configurations itself (--configs)")
    datasets = parse_datasets(cfg.dataset)
    out = Path(cfg.out) if cfg.out else default_out(datasets, "ablation")
    prepare_out(out, cfg, RESUME_KEYS)
    handler = add_file_log(out / "log.txt")
    try:
        return _run(cfg, configs, out)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def _run(cfg: AblationRunConfig, configs: list[AblationConfig], out: Path) -> Path:
    from benchmarks import reid_figures
    from benchmarks.reid_runner import ReIDSession
    from hpnet.config import MDA_ABLATIONS

    t_start = time.perf_counter()
    session = ReIDSession(cfg, out)
    trainer = session.trainer
    config: dict[str, Any] = {"run": asdict(cfg), "environment": environment(), "task": "reid_ablation",
                              "datasets": session.datasets_info(),
                              "configs": {c.name: {"label": c.label, "ablation": c.ablation,
                                                   "paths": list(MDA_ABLATIONS.get(c.ablation)) if c.ablation else None}
                                          for c in configs},
                              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json(out / "config.json", config)
    for c in configs:
        paths = MDA_ABLATIONS.get(c.ablation) if c.ablation else None
        model = trainer.mnet() if paths is None else trainer.hpnet(paths, save=False)
        stages = trainer.stages_for(paths)
        session.evaluate(c.label, model, method=c.name,
                         seconds=sum(trainer.records[s].seconds for s in stages if s in trainer.records),
                         timings={f"stage_{s}_seconds": trainer.records[s].seconds for s in stages if s in trainer.records})
        config["train"] = session.train_info()
        write_json(out / "config.json", config)
        session.write_metrics(config)

    for name in session.datasets:
        results = session.results[name]
        bars = [reid_figures.AblationBar(
            label=c.label, value=results[c.label]["top1"], color=c.color,
            paths=tuple(MDA_ABLATIONS.get(c.ablation)) if c.ablation else None,
            ci=tuple(results[c.label]["ci95"]["top1"]) if results[c.label]["ci95"].get("top1") else None,
        ) for c in configs]
        synthetic = " (synthetic data)" if name.startswith("synthetic") else ""
        reid_figures.ablation_bars(out / f"ablation{session.suffix(name)}.png", bars,
                                   title=f"Fig. 6(a) component analysis on {name}{synthetic}: top-1, {cfg.preset} preset")
        _write_csv(out / f"ablation{session.suffix(name)}.csv", configs, results)
    labels = {c.name: c.label for c in configs}
    session.write_figures(ranked_rows=[labels[n] for n in RANKED_CONFIGS if n in labels] or None)
    config["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    config["wall_seconds"] = time.perf_counter() - t_start
    write_json(out / "config.json", config)
    for name in session.datasets:
        lines = [f"{c.label:<28} top-1 {100 * session.results[name][c.label]['top1']:6.2f}%  "
                 f"mAP {100 * session.results[name][c.label]['mAP']:6.2f}%" for c in configs]
        log.info("Fig. 6(a) on %s:\n%s", name, "\n".join(lines))
    return out


def _write_csv(path: Path, configs: list[AblationConfig], results: dict[str, dict[str, Any]]) -> None:
    with atomic_write(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(["config", "label", "top1", "top1_low", "top1_high", "top5", "top10", "top20", "mAP", "mINP"])
        for c in configs:
            r = results[c.label]
            low, high = r["ci95"].get("top1", [None, None])
            writer.writerow([c.name, c.label, r["top1"], low, high, r.get("top5"), r.get("top10"), r.get("top20"),
                             r["mAP"], r["mINP"]])


def build_parser() -> argparse.ArgumentParser:
    """The ablation command's arguments."""
    from benchmarks.run import _override

    p = argparse.ArgumentParser(prog="python -m benchmarks.ablate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="reid", choices=ABLATION_TASKS.names(), help="which ablation (default reid: Fig. 6)")
    p.add_argument("--dataset", default="synthetic_reid", help="ReID dataset (the paper: viper); default synthetic_reid")
    p.add_argument("--data-root", default=None, help="folder of the official release (not needed for synthetic_reid)")
    p.add_argument("--data-preset", default="small", choices=("tiny", "small", "full"), help="synthetic data size")
    p.add_argument("--preset", default="cpu", choices=("tiny", "cpu", "paper"), help="model/training size (default cpu)")
    p.add_argument("--configs", default=",".join(c.name for c in FIG6_CONFIGS),
                   help=f"comma-separated subset of: {', '.join(c.name for c in FIG6_CONFIGS)} (default all six)")
    p.add_argument("--out", default=None, help="run folder (default runs/<dataset>-reid-ablation-<timestamp>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--resume", action="store_true", help="continue the run folder given by --out")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for the 95%% intervals")
    p.add_argument("--set", dest="overrides", action="append", type=_override, default=[], metavar="KEY=VALUE",
                   help="override a training setting, e.g. --set mnet_epochs=4 (see benchmarks.reid_runner)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cfg = AblationRunConfig(task=args.task, dataset=args.dataset, data_root=args.data_root,
                            data_preset=args.data_preset, preset=args.preset, seed=args.seed, device=args.device,
                            out=args.out, resume=args.resume, progress=not args.no_progress,
                            configs=[s.strip() for s in args.configs.split(",") if s.strip()],
                            overrides=dict(args.overrides), n_bootstrap=args.bootstrap)
    try:
        out = ABLATION_TASKS.get(cfg.task)(cfg)
    except (KeyError, ValueError, FileNotFoundError, FileExistsError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    print(f"run folder: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
