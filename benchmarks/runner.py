"""One benchmark run: load data, run each method, evaluate on test, write the run folder."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import figures
from benchmarks.datasets import BENCHMARK_DATASETS, load_benchmark_dataset
from benchmarks.evaluate import evaluate_scores
from benchmarks.methods import METHODS, MethodOutput, RunContext
from benchmarks.rundir import add_file_log, environment, write_json, write_per_attribute, write_predictions
from benchmarks.tables import SYNTHETIC_NOTE, results_table
from pa100k.attribute_set import AttributeSet

log = logging.getLogger(__name__)

# Settings that must match for --resume to continue a run folder.
RESUME_KEYS = ("methods", "dataset", "data_root", "data_preset", "preset", "seed", "overrides")


@dataclass
class RunConfig:
    """A run's settings, as written to config.json."""

    methods: list[str]
    dataset: str = "synthetic"
    data_root: str | None = None
    data_preset: str = "small"
    preset: str = "cpu"
    seed: int = 0
    device: str = "auto"
    out: str | None = None
    resume: bool = False
    weights: str | None = None
    n_bootstrap: int = 1000
    progress: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)


def resolve_methods(spec: str | list[str]) -> list[str]:
    """``"all"`` or a comma-separated list → registered method names (unknown names raise, listing valid ones)."""
    names = spec if isinstance(spec, list) else [s.strip() for s in spec.split(",") if s.strip()]
    if names == ["all"]:
        return METHODS.names()
    if not names:
        raise ValueError(f"--method is empty; valid: {', '.join(METHODS.names())}, all")
    for n in names:
        METHODS.get(n)
    return names


def default_out(cfg: RunConfig) -> Path:
    """``runs/<dataset>-<method>-<timestamp>``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    label = "all" if set(cfg.methods) == set(METHODS.names()) and len(cfg.methods) > 1 else "+".join(cfg.methods)
    return Path("runs") / f"{cfg.dataset}-{label}-{stamp}"


def check_resume(out: Path, cfg: RunConfig) -> None:
    """Refuse to resume a folder made with other settings (names each difference)."""
    path = out / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"--resume: {path} not found; nothing to resume in {out}")
    try:
        old = json.loads(path.read_text(encoding="utf-8"))["run"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"--resume: {path} is not a run config ({exc})") from None
    new = asdict(cfg)
    diffs = [f"{k}: folder has {old.get(k)!r}, this command has {new.get(k)!r}"
             for k in RESUME_KEYS if old.get(k) != new.get(k)]
    if diffs:
        raise ValueError(f"--resume: {out} was made with another configuration: " + "; ".join(diffs))


def split_runnable(cfg: RunConfig) -> tuple[list[str], dict[str, str]]:
    """Methods that can run with ``cfg``, and the reason each other one is skipped.

    A method that needs ImageNet weights (FC6/FC7-mm) without ``--weights`` is skipped when it came from
    ``--method all`` and is an error when it was named.
    """
    explicit = cfg.methods != "all" and cfg.methods != ["all"]
    names = resolve_methods(cfg.methods)
    runnable, skipped = [], {}
    for n in names:
        cls = METHODS.get(n)
        if cls.needs_weights and not cfg.weights:
            reason = f"{n} ({cls.paper_name}) needs ImageNet weights from a local file: pass --weights FILE"
            if explicit:
                raise ValueError(reason)
            skipped[n] = reason
        else:
            runnable.append(n)
    return runnable, skipped


def run_benchmark(cfg: RunConfig) -> Path:
    """Run every method of ``cfg`` and write the run folder; returns its path."""
    cfg.methods, skipped = split_runnable(cfg)
    for reason in skipped.values():
        log.warning("skipped: %s", reason)
    spec = BENCHMARK_DATASETS.get(cfg.dataset)
    if spec.task != "attributes":
        raise ValueError(f"dataset {cfg.dataset!r} is a {spec.task} dataset; use --task {spec.task}")
    out = Path(cfg.out) if cfg.out else default_out(cfg)
    if cfg.resume:
        check_resume(out, cfg)
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f"--out {out} exists and is not empty; use --resume to continue it or another --out")
    out.mkdir(parents=True, exist_ok=True)
    handler = add_file_log(out / "log.txt")
    try:
        return _run(cfg, out, skipped)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def _run(cfg: RunConfig, out: Path, skipped: dict[str, str]) -> Path:
    t0 = time.perf_counter()
    data = load_benchmark_dataset(cfg.dataset, cfg.data_root, cfg.data_preset, cfg.seed)
    log.info(data.summary())
    for split in ("train", "val", "test"):
        if split not in data.splits:
            raise ValueError(f"dataset {cfg.dataset!r} has no {split!r} split; the benchmark needs train, val and test")
    config = {"run": asdict(cfg), "environment": environment(), "dataset": _dataset_info(data),
              "methods": {}, "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json(out / "config.json", config)

    results: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    histories: dict[str, list[dict]] = {}
    for name in cfg.methods:
        method = METHODS.get(name)()
        ctx = RunContext(work_dir=out / "methods" / name, preset=cfg.preset, seed=cfg.seed, device=cfg.device,
                         resume=cfg.resume, weights=Path(cfg.weights) if cfg.weights else None,
                         progress=cfg.progress, cache_dir=_cache_dir(), dataset_name=cfg.dataset,
                         overrides=dict(cfg.overrides))
        config["methods"][name] = {"paper_name": method.paper_name, **method.config(ctx)}
        write_json(out / "config.json", config)
        output, elapsed = _run_method(method, data, ctx)
        histories[method.paper_name] = output.history
        rows = {method.paper_name: output.test_scores, **output.companions}
        for row_name, scores in rows.items():
            log.info("evaluating %s on %s test (%d images)", row_name, cfg.dataset, len(scores))
            res = evaluate_scores(data, "test", scores, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)
            res.update(method=name, paper_row=row_name, seconds=elapsed if row_name == method.paper_name else None,
                       timings=output.timings if row_name == method.paper_name else {})
            results[row_name] = res
            seconds[row_name] = elapsed
        write_predictions(ctx.work_dir / "predictions.csv", data, "test", output.test_scores)
        _write_metrics(out, cfg, results, skipped)
    primary = cfg.methods[0]
    primary_row = METHODS.get(primary).paper_name
    write_predictions(out / "predictions.csv", data, "test", _load_scores(out / "methods" / primary)["test"])
    write_per_attribute(out / "per_attribute.csv", data, {k: v for k, v in results.items()})
    figures.per_attribute_bars(
        out / "per_attribute_mA.png", data.schema.attributes,
        {k: v["per_attribute"]["mA_j"] for k, v in results.items()},
        title=f"{cfg.dataset} test: mA per attribute" + (" (synthetic data)" if cfg.dataset == "synthetic" else ""),
    )
    figures.training_curves(out / "training_curves.png", histories)
    config["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    config["wall_seconds"] = time.perf_counter() - t0
    write_json(out / "config.json", config)
    table = results_table(cfg.dataset, [{"name": k, "metrics": v, "seconds": seconds.get(k)} for k, v in results.items()])
    log.info("results on %s test (primary: %s)\n%s", cfg.dataset, primary_row, table)
    if cfg.dataset == "synthetic":
        log.info(SYNTHETIC_NOTE)
    for reason in skipped.values():
        log.info("skipped: %s", reason)
    return out


def _run_method(method, data: AttributeSet, ctx: RunContext) -> tuple[MethodOutput, float]:
    """Run ``method`` unless a finished result is in its folder and we are resuming."""
    done = ctx.work_dir / "scores.npz"
    if ctx.resume and done.exists():
        log.info("%s: finished earlier, reusing %s", method.name, done)
        saved = _load_scores(ctx.work_dir)
        meta = json.loads((ctx.work_dir / "output.json").read_text(encoding="utf-8"))
        companions = {k[len("companion:"):]: v for k, v in saved.items() if k.startswith("companion:")}
        output = MethodOutput(test_scores=saved["test"], val_scores=saved.get("val"), history=meta["history"],
                              companions=companions, timings=meta.get("timings", {}),
                              checkpoint=Path(meta["checkpoint"]) if meta.get("checkpoint") else None)
        return output, float(meta["seconds"])
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    log.info("running %s (%s), preset %s", method.name, method.paper_name, ctx.preset)
    t = time.perf_counter()
    output = method.run(data, ctx)
    elapsed = time.perf_counter() - t
    n_test = len(data.split_indices("test"))
    test = np.asarray(output.test_scores, dtype=np.float64)
    if test.shape != (n_test, data.schema.num_attributes):
        raise RuntimeError(f"method {method.name} returned test scores of shape {test.shape}, "
                           f"expected ({n_test}, {data.schema.num_attributes})")
    if not np.isfinite(test).all() or test.min() < 0 or test.max() > 1:
        raise RuntimeError(f"method {method.name} returned test scores outside [0, 1] or not finite")
    arrays = {"test": test}
    if output.val_scores is not None:
        arrays["val"] = np.asarray(output.val_scores)
    arrays.update({f"companion:{k}": np.asarray(v) for k, v in output.companions.items()})
    from pa100k.fileio import atomic_path

    with atomic_path(done) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    write_json(ctx.work_dir / "output.json", {"history": output.history, "timings": output.timings,
                                                "seconds": elapsed, "info": output.info,
                                                "checkpoint": str(output.checkpoint) if output.checkpoint else None})
    return output, elapsed


def _load_scores(work_dir: Path) -> dict[str, np.ndarray]:
    with np.load(work_dir / "scores.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _write_metrics(out: Path, cfg: RunConfig, results: dict[str, dict], skipped: dict[str, str]) -> None:
    write_json(out / "metrics.json", {
        "task": "attributes", "skipped": skipped,
        "dataset": cfg.dataset, "split": "test", "convention": "li2016",
        "note": SYNTHETIC_NOTE if cfg.dataset == "synthetic" else "",
        "units": "fractions in [0, 1]; ci95 = bootstrap 95% interval over test images",
        "methods": results,
    })


def _dataset_info(data: AttributeSet) -> dict[str, Any]:
    return {"name": data.dataset, "schema": data.schema.name, "num_images": len(data),
            "splits": {k: int(len(v)) for k, v in data.splits.items()}, "root": str(data.root) if data.root else None}


def _cache_dir() -> Path:
    from pa100k.fileio import data_home

    return data_home() / "cache"
