"""``python -m benchmarks.run --task reid``: train M-net / HP-net on ReID training identities and score each dataset's
query/gallery (Table 4); several datasets (``--dataset market1501,cuhk03,viper``) train one JSTL model (§6.1).

Run folder:

- ``config.json`` (``run``: the settings, ``environment``, ``datasets``, ``train``: preset and stage records),
  ``metrics.json`` (``task: "reid"``, ``methods``: one metrics dict per row, keys ``top1``/``top5``/
  ``top10``/``top20``/``mAP``/``mINP`` as fractions, ``ci95``, ``cmc``, ``random_top1``), ``log.txt``;
- ``cmc.png`` and ``ranked_list.png`` (query and top-10 gallery, true matches green, false red: Fig. 9);
- ``features.npz``: the leaderboard's ReID submission (``query_features``/``gallery_features`` float32,
  ``query_names``/``gallery_names``) of the first ``--method``'s model on the first dataset; every row's
  features are in ``methods/<mnet|hpnet[-paths]>/features.npz``;
- ``train/``: checkpoints (`hpnet.reid.train` layout; ``--resume`` continues it).

With several datasets the per-dataset files are suffixed ``-<dataset>`` and ``datasets/<dataset>/`` holds a
``metrics.json``/``config.json`` pair per dataset, so ``benchmarks.report`` can show each beside its Table 4
rows; the top-level ``metrics.json`` names rows ``<row> [<dataset>]``.

Under ``torchrun`` every process trains (DistributedDataParallel through `hpnet.engine.fit`), the ranks other than
0 keeping their checkpoints and model folders in a private temporary folder that is removed at the end (as the
attribute runner, `benchmarks.runner`, does); rank 0 alone extracts features, evaluates and writes the run
folder. ``--resume`` refuses a folder made with another number of processes.

``--set KEY=VALUE`` overrides: ``attention_config`` (a `hpnet.config.MDA_ABLATIONS` name: full, naive,
no_middle, prune_one, prune_two; the HP-net's attentive paths, Fig. 6); ``repeats`` (single-gallery-shot
draws, default 100); ``<dataset>.<option>`` (a loader option, e.g. ``viper.split=3``,
``cuhk03.protocol=new``); anything `hpnet.reid.apply_overrides` accepts (``feature=fc``, ``flip=true``,
``triplet_weight=1``, ``mnet_epochs=20``, ``mda.lr=0.01``, ``model.attention_channels=4``, ...).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.rundir import add_file_log, environment, prepare_out, write_json
from hpnet import distributed
from pa100k.registry import Registry

log = logging.getLogger(__name__)

SYNTHETIC_REID_NOTE = ("Synthetic ReID numbers measure the suite on its own rendered identities; they are NOT "
                       "comparable with the paper's Market-1501 numbers shown for reference.")
UNITS = "fractions in [0, 1]; ci95 = percentile bootstrap 95% interval over query identities"
TOP_K = 10
CANDIDATE_QUERIES = 200
SHOWN_QUERIES = 4


@dataclass
class ReIDRunConfig:
    """A ReID run's settings, as written to config.json (``run``)."""

    methods: str | list[str]
    dataset: str = "synthetic_reid"
    data_root: str | None = None
    data_preset: str = "small"
    preset: str = "cpu"
    seed: int = 0
    device: str = "auto"
    out: str | None = None
    resume: bool = False
    progress: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)
    n_bootstrap: int = 1000


@dataclass(frozen=True)
class ReIDMethod:
    """A method of the ReID table: the model rows it reports (HP-net reports its stage-1 M-net too)."""

    name: str
    paper_name: str
    rows: tuple[str, ...]
    description: str = ""


REID_METHODS: Registry[ReIDMethod] = Registry("ReID method")
REID_METHODS.add("mnet", ReIDMethod("mnet", "M-net", ("M-net",), "M-net with the identity softmax"))
REID_METHODS.add("hpnet", ReIDMethod("hpnet", "HP-net", ("M-net", "HP-net"),
                                     "HP-net, stage-wise (M-net → MDA modules [→ fusion FC]); reports its M-net too"))

# How each row's model is obtained from the trainer (paths: the HP-net's attentive paths).
MODEL_ROWS: Registry[Callable[..., Any]] = Registry("ReID model row")
MODEL_ROWS.add("M-net", lambda trainer, paths: trainer.mnet())
MODEL_ROWS.add("HP-net", lambda trainer, paths: trainer.hpnet(paths))


def resolve_reid_methods(spec: str | list[str]) -> list[str]:
    """``"all"`` or a comma-separated list → registered ReID method names (unknown names raise, listing valid ones)."""
    names = spec if isinstance(spec, list) else [s.strip() for s in str(spec).split(",") if s.strip()]
    if names == ["all"]:
        return REID_METHODS.names()
    if not names:
        raise ValueError(f"--method is empty; valid for --task reid: {', '.join(REID_METHODS.names())}, all")
    for n in names:
        REID_METHODS.get(n)
    return names


def parse_datasets(spec: str) -> list[str]:
    """``"market1501,cuhk03,viper"`` → registered ReID dataset names (several = one JSTL model)."""
    from pa100k.reid import REID_DATASETS

    names = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not names:
        raise ValueError(f"--dataset is empty; valid for --task reid: {', '.join(REID_DATASETS.names())}")
    if len(set(names)) != len(names):
        raise ValueError(f"--dataset lists a dataset twice: {spec!r}")
    for n in names:
        REID_DATASETS.get(n)
    return names


def default_out(datasets: list[str], label: str) -> Path:
    """``runs/<datasets>-reid-<label>-<timestamp>``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{'+'.join(datasets)}-reid-{label}-{stamp}"


RESUME_KEYS = ("methods", "dataset", "data_root", "data_preset", "preset", "seed", "overrides")


def _row_slug(row: str) -> str:
    return {"M-net": "mnet", "HP-net": "hpnet"}.get(row, row.lower().replace("-", "").replace(" ", "-")
                                                   .replace("(", "").replace(")", ""))


# --------------------------------------------------------------------------------------------- session
class ReIDSession:
    """The data, trainer and evaluation of one ReID run folder (used by the runner and by ``benchmarks.ablate``)."""

    def __init__(self, cfg: Any, out: Path, train_dir: Path | None = None) -> None:
        """``train_dir``: the trainer's folder (default ``out/train``; a private one on ranks other than 0)."""
        from hpnet.reid import ReIDTrainer, apply_overrides
        from pa100k.reid import merge_train

        self.cfg, self.out = cfg, out
        self.progress = bool(cfg.progress) and distributed.is_main()
        self.datasets = parse_datasets(cfg.dataset)
        overrides = dict(cfg.overrides)
        self.repeats = int(overrides.pop("repeats", 100))
        self.loader_options: dict[str, dict[str, Any]] = {d: {} for d in self.datasets}
        for key in list(overrides):
            head, _, rest = key.partition(".")
            if head in self.loader_options and rest:
                self.loader_options[head][rest] = overrides.pop(key)
        self.preset = apply_overrides(cfg.preset, overrides)
        # rank 0 first: loading may render the synthetic set into the data home, which the others then read
        self.sets = {name: distributed.main_first(lambda name=name: self._load(name)) for name in self.datasets}
        for rs in self.sets.values():
            log.info(rs.summary())
        self.trainer = ReIDTrainer(merge_train(list(self.sets.values())), preset=self.preset,
                                   out_dir=out / "train" if train_dir is None else train_dir, seed=cfg.seed,
                                   device=cfg.device, resume=cfg.resume, progress=self.progress)
        self.results: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in self.datasets}
        self._eval_data: dict[str, dict[str, Any]] = {}
        self._candidates: dict[str, np.ndarray] = {}
        self._topk: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {d: {} for d in self.datasets}

    def _load(self, name: str):
        from pa100k.reid import load_reid

        root = None
        if self.cfg.data_root is not None:
            base = Path(self.cfg.data_root).expanduser()
            if not base.exists():
                raise FileNotFoundError(f"--data-root {base}: folder not found")
            root = base if len(self.datasets) == 1 else base / name
        options = dict(self.loader_options[name])
        if name == "synthetic_reid":
            options.setdefault("preset", self.cfg.data_preset)
            options.setdefault("seed", 0)
        return load_reid(name, root=root, **options)

    # ---------------------------------------------------------------------------------------- info
    def datasets_info(self) -> dict[str, Any]:
        """Per dataset: protocol, root, loader options and per-subset counts."""
        info = {}
        for name, rs in self.sets.items():
            counts = {s: {"images": len(rs.subset(s)), "ids": len(np.unique(rs.pids(s))),
                          "cameras": len(np.unique(rs.camids(s)))} for s in ("train", "query", "gallery")}
            info[name] = {"protocol": rs.protocol, "root": str(rs.root) if rs.root else None,
                          "options": self.loader_options[name], "info": rs.info, "subsets": counts}
        return info

    def train_info(self) -> dict[str, Any]:
        """Preset, JSTL label space and the records of the stages trained so far."""
        return {"preset": self.preset.to_dict(), "train_datasets": self.datasets,
                "num_train_ids": self.trainer.num_classes, "num_train_images": len(self.trainer.labels),
                "repeats": self.repeats,
                "stages": {k: {"seconds": v.seconds, "best_epoch": v.best_epoch, "selection": v.selection,
                               "best_val_accuracy": v.best_val_accuracy, "epochs": len(v.history)}
                           for k, v in self.trainer.records.items()}}

    def history(self) -> list[dict[str, Any]]:
        """Every stage's per-epoch records, with a ``stage`` key (for training curves)."""
        return [{"stage": stage, **rec} for stage, r in self.trainer.records.items() for rec in r.history]

    # ----------------------------------------------------------------------------------------- eval
    def _eval_datasets(self, name: str) -> dict[str, Any]:
        if name not in self._eval_data:
            from hpnet.reid import ImageStore, ReIDImageDataset, image_names

            rs, c = self.sets[name], self.trainer.config
            data: dict[str, Any] = {}
            for subset in ("query", "gallery"):
                items = rs.subset(subset)
                names = image_names(items, subset)
                store = ImageStore([it[0] for it in items], c.input_size, names=names, cache=self.preset.cache_images,
                                   num_workers=self.preset.num_workers, progress=self.progress,
                                   desc=f"{name} {subset}")
                data[subset] = ReIDImageDataset(store, mean=c.mean, std=c.std)
                data[f"{subset}_names"] = names
            self._eval_data[name] = data
        return self._eval_data[name]

    def evaluate(self, row: str, model: Any, *, features_dir: Path | None = None, seconds: float | None = None,
                 timings: dict[str, float] | None = None, method: str = "") -> dict[str, dict[str, Any]]:
        """Score ``model`` on every dataset's query/gallery as row ``row``; with ``features_dir`` also write
        ``features[-<dataset>].npz`` there. Returns ``{dataset: metrics}``."""
        from hpnet.reid import evaluate_features, extract_features, top_k_lists, write_features_npz

        out: dict[str, dict[str, Any]] = {}
        for name, rs in self.sets.items():
            data = self._eval_datasets(name)
            t0 = time.perf_counter()
            kw = {"feature": self.preset.feature, "flip": self.preset.flip, "batch_size": self.preset.feature_batch_size,
                  "device": self.cfg.device, "progress": self.progress}
            qf = extract_features(model, data["query"], desc=f"{row} {name} query", **kw)
            gf = extract_features(model, data["gallery"], desc=f"{row} {name} gallery", **kw)
            t1 = time.perf_counter()
            ids = (rs.pids("query"), rs.pids("gallery"), rs.camids("query"), rs.camids("gallery"))
            res = evaluate_features(qf, gf, *ids, protocol=rs.protocol, repeats=self.repeats, seed=self.cfg.seed,
                                    n_bootstrap=self.cfg.n_bootstrap)
            valid = np.asarray(res.pop("valid"), dtype=np.int64)
            if name not in self._candidates:
                rng = np.random.default_rng(self.cfg.seed)
                self._candidates[name] = rng.permutation(valid)[:CANDIDATE_QUERIES]
            self._topk[name][row] = top_k_lists(qf, gf, *ids, k=TOP_K, queries=self._candidates[name])
            t2 = time.perf_counter()
            res.update(method=method, paper_row=row, feature=self.preset.feature, flip=self.preset.flip,
                       seconds=seconds, timings={**(timings or {}), "extract_seconds": t1 - t0, "evaluate_seconds": t2 - t1})
            if features_dir is not None:
                suffix = "" if len(self.sets) == 1 else f"-{name}"
                write_features_npz(features_dir / f"features{suffix}.npz", qf, gf, data["query_names"], data["gallery_names"])
            log.info("%s on %s (%s protocol): top-1 %.2f%%, top-5 %.2f%%, mAP %.2f%%, mINP %.2f%% (random top-1 %.2f%%)",
                     row, name, rs.protocol, 100 * res["top1"], 100 * res.get("top5", float("nan")), 100 * res["mAP"],
                     100 * res["mINP"], 100 * res["random_top1"])
            self.results[name][row] = res
            out[name] = res
        return out

    # ---------------------------------------------------------------------------------------- files
    def suffix(self, name: str) -> str:
        """``""`` for a single dataset, else ``-<dataset>``."""
        return "" if len(self.sets) == 1 else f"-{name}"

    def write_metrics(self, config: dict[str, Any]) -> None:
        """metrics.json (and, for several datasets, datasets/<name>/{metrics,config}.json)."""
        def doc(name: str, rows: dict[str, Any]) -> dict[str, Any]:
            return {"dataset": name, "task": "reid", "split": "query/gallery", "protocol": self.sets[name].protocol,
                    "train_datasets": self.datasets, "units": UNITS,
                    "note": SYNTHETIC_REID_NOTE if name.startswith("synthetic") else "", "methods": rows}

        if len(self.sets) == 1:
            name = self.datasets[0]
            write_json(self.out / "metrics.json", doc(name, self.results[name]))
            return
        for name in self.datasets:
            write_json(self.out / "datasets" / name / "metrics.json", doc(name, self.results[name]))
            write_json(self.out / "datasets" / name / "config.json", config)
        combined = {f"{row} [{name}]": res for name in self.datasets for row, res in self.results[name].items()}
        write_json(self.out / "metrics.json", {
            "dataset": "+".join(self.datasets), "task": "reid", "split": "query/gallery", "jstl": True,
            "train_datasets": self.datasets, "units": UNITS, "methods": combined,
            "per_dataset": {n: {"protocol": self.sets[n].protocol, "methods": self.results[n]} for n in self.datasets},
        })

    def write_figures(self, rows: list[str] | None = None, ranked_rows: list[str] | None = None) -> None:
        """cmc[-<dataset>].png for ``rows`` and ranked_list[-<dataset>].png for ``ranked_rows`` (default: all
        evaluated rows)."""
        from benchmarks import reid_figures

        for name, rs in self.sets.items():
            results = self.results[name]
            use = [r for r in (rows or list(results)) if r in results]
            if not use:
                continue
            synthetic = " (synthetic data)" if name.startswith("synthetic") else ""
            reid_figures.cmc_curves(self.out / f"cmc{self.suffix(name)}.png", {r: results[r]["cmc"] for r in use},
                                    title=f"{name}: CMC ({rs.protocol} protocol){synthetic}",
                                    chance_top1=results[use[0]]["random_top1"])
            use = [r for r in (ranked_rows or use) if r in results]
            shown = self._shown_queries(name, use)
            ranked = []
            for j in shown:
                q = int(self._candidates[name][j])
                query = rs.open_image("query", q)
                for r in use:
                    idx, match = self._topk[name][r]
                    gallery = [rs.open_image("gallery", int(g)) if g >= 0 else None for g in idx[j]]
                    ranked.append(reid_figures.RankedRow(label=r, query=query, caption=f"query id {rs.pids('query')[q]}",
                                                         gallery=gallery, matches=[bool(m) for m in match[j]]))
            reid_figures.ranked_lists(self.out / f"ranked_list{self.suffix(name)}.png", ranked,
                                      title=f"{name}: top-{TOP_K} gallery per query (green: same identity){synthetic}")

    def _shown_queries(self, name: str, rows: list[str]) -> list[int]:
        """Candidate positions to draw: first where the last row is right at rank 1 and another wrong (Fig. 9),
        then other disagreements, then the rest, each group in the seeded candidate order."""
        first = np.stack([self._topk[name][r][1][:, 0] for r in rows])  # (rows, candidates)
        fixed = first[-1] & ~first[:-1].all(0) if len(rows) > 1 else np.zeros(first.shape[1], dtype=bool)
        disagree = first.any(0) & ~first.all(0)
        order = [*np.flatnonzero(fixed), *np.flatnonzero(disagree & ~fixed), *np.flatnonzero(~disagree)]
        return [int(j) for j in order[:SHOWN_QUERIES]]


# ---------------------------------------------------------------------------------------------- runner
def run_reid_benchmark(cfg: ReIDRunConfig) -> Path:
    """Train and evaluate every method of ``cfg`` on its ReID dataset(s) and write the run folder; returns its path
    (on every rank under torchrun)."""
    cfg.methods = resolve_reid_methods(cfg.methods)
    datasets = parse_datasets(cfg.dataset)

    def prepare() -> Path:
        out = Path(cfg.out) if cfg.out else default_out(datasets, "+".join(cfg.methods))
        prepare_out(out, cfg, RESUME_KEYS)
        return out

    out = distributed.from_main(prepare)
    main = distributed.is_main()
    handler = add_file_log(out / "log.txt") if main else None
    scratch = None if main else Path(tempfile.mkdtemp(prefix=f"pa100k-run-rank{distributed.rank()}-"))
    try:
        return _run(cfg, out, scratch)
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _run(cfg: ReIDRunConfig, out: Path, scratch: Path | None) -> Path:
    """The run itself; ``scratch`` is the private folder of a rank other than 0 (None on rank 0).

    Every rank trains each row's model (the stages run under DDP and end with identical weights on every rank);
    rank 0 alone evaluates and writes.
    """
    from hpnet.reid import paths_tag

    t_start = time.perf_counter()
    main = scratch is None
    train_dir = out / "train" if main else scratch / "train"
    if cfg.resume and not main and (out / "train").is_dir():  # the interrupted run's state, as rank 0 reads it
        shutil.copytree(out / "train", train_dir)
    distributed.barrier()  # copied before rank 0 writes into train/
    session = ReIDSession(cfg, out, train_dir)
    trainer = session.trainer
    config: dict[str, Any] = {"run": asdict(cfg), "environment": environment(), "task": "reid",
                              "datasets": session.datasets_info(), "train": session.train_info(),
                              "distributed": {"world_size": distributed.world_size(), "backend": distributed.backend(),
                                              "note": "batch sizes are per process: the global batch is "
                                                      "batch_size x world_size"},
                              "methods": {}, "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if main:
        write_json(out / "config.json", config)

    tag = paths_tag(trainer.config.paths)
    rows: dict[str, str] = {}  # row label → method that reports it first
    for name in cfg.methods:
        method = REID_METHODS.get(name)
        config["methods"][name] = {"paper_name": method.paper_name, "rows": list(method.rows),
                                   "description": method.description, "attention_config": tag}
        for row in method.rows:
            rows.setdefault(row, name)
    if main:
        write_json(out / "config.json", config)

    for row, method in rows.items():
        label = row if row != "HP-net" or tag == "full" else f"HP-net ({tag})"
        model = MODEL_ROWS.get(row)(trainer, trainer.config.paths)  # trained on every rank
        if not main:  # its features and metrics are rank 0's to compute and write
            continue
        stages = trainer.stages_for(None if row == "M-net" else trainer.config.paths)
        seconds = sum(trainer.records[s].seconds for s in stages if s in trainer.records)
        slug = _row_slug(row) + ("" if row != "HP-net" or tag == "full" else f"-{tag}")
        session.evaluate(label, model, features_dir=out / "methods" / slug, seconds=seconds, method=method,
                         timings={f"stage_{s}_seconds": trainer.records[s].seconds for s in stages if s in trainer.records})
        config["train"] = session.train_info()
        write_json(out / "config.json", config)
        session.write_metrics(config)
    distributed.barrier()  # every rank leaves once rank 0 has evaluated the last row
    if not main:
        return out

    primary = REID_METHODS.get(cfg.methods[0]).rows[-1]
    primary_slug = _row_slug(primary) + ("" if primary != "HP-net" or tag == "full" else f"-{tag}")
    first = session.datasets[0]
    _copy(out / "methods" / primary_slug / f"features{session.suffix(first)}.npz", out / "features.npz")
    session.write_figures()
    if session.history():
        from benchmarks import reid_figures

        reid_figures.training_curves(out / "training_curves.png", session.history())
    config["primary"] = {"row": primary, "dataset": first, "features": "features.npz"}
    config["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    config["wall_seconds"] = time.perf_counter() - t_start
    write_json(out / "config.json", config)
    session.write_metrics(config)

    from benchmarks.reid_tables import reid_results_table

    for name in session.datasets:
        table = reid_results_table(name, [{"name": k, "metrics": v} for k, v in session.results[name].items()])
        log.info("ReID results on %s (%s protocol)\n%s", name, session.sets[name].protocol, table)
        if name.startswith("synthetic"):
            log.info(SYNTHETIC_REID_NOTE)
    log.info("wall time %.1f min", (time.perf_counter() - t_start) / 60)
    return out


def _copy(src: Path, dst: Path) -> None:
    from pa100k.fileio import atomic_path

    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
