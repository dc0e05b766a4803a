"""One benchmark run: load data, run each method, evaluate on test, write the run folder.

Under ``torchrun`` (a process group from `hpnet.distributed.init_from_env`) every process runs this. Rank 0
alone creates and writes the run folder (config, logs, scores, metrics, figures); the methods that train
with gradients (``Method.runs_on_every_rank``: M-net, HP-net, ACN, DeepMar) run on every rank with
DistributedDataParallel, the other ranks working in a private temporary folder that is removed at the end;
the others (ELF-mm, FC6/FC7-mm: features and SVMs, nothing to share) run on rank 0 alone. Every read of a
file rank 0 writes is behind a barrier. ``--resume`` assumes the run folder is visible to every rank (one
machine or a shared filesystem), and refuses a folder made with another number of processes.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
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
from benchmarks.methods.base import check_overrides
from benchmarks.rundir import (
    add_file_log,
    environment,
    prepare_out,
    write_json,
    write_per_attribute,
    write_predictions,
)
from benchmarks.tables import SYNTHETIC_NOTE, results_table
from hpnet import distributed
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
        if cls.companion_of and cls.companion_of in names:
            other = METHODS.get(cls.companion_of)
            skipped[n] = (f"{n} ({cls.paper_name}) not trained twice: its row is {other.paper_name}'s companion, "
                          "trained with the same preset, seed and settings")
        elif cls.needs_weights and not cfg.weights:
            reason = f"{n} ({cls.paper_name}) needs ImageNet weights from a local file: pass --weights FILE"
            if explicit:
                raise ValueError(reason)
            skipped[n] = reason
        else:
            runnable.append(n)
    return runnable, skipped


def run_benchmark(cfg: RunConfig) -> Path:
    """Run every method of ``cfg`` and write the run folder; returns its path (on every rank under torchrun).

    ``--set`` keys that no selected method accepts are refused before anything runs (a key that only
    some of the selected methods accept is fine: the others ignore it).
    """
    cfg.methods, skipped = split_runnable(cfg)
    for reason in skipped.values():
        log.warning("skipped: %s", reason)
    methods = [METHODS.get(n)() for n in cfg.methods]
    check_overrides(methods, cfg.overrides)
    for method in methods:  # bad override values fail here, before any method trains
        method.config(_method_context(cfg, Path(cfg.out or "runs") / "methods" / method.name))
    spec = BENCHMARK_DATASETS.get(cfg.dataset)
    if spec.task != "attributes":
        raise ValueError(f"dataset {cfg.dataset!r} is a {spec.task} dataset; use --task {spec.task}")
    out = distributed.from_main(lambda: _prepare_out(cfg))
    main = distributed.is_main()
    handler = add_file_log(out / "log.txt") if main else None
    scratch = None if main else Path(tempfile.mkdtemp(prefix=f"pa100k-run-rank{distributed.rank()}-"))
    try:
        return _run(cfg, out, skipped, scratch)
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _prepare_out(cfg: RunConfig) -> Path:
    """The run folder, checked (``--resume``: same settings; otherwise empty or new) and created."""
    out = Path(cfg.out) if cfg.out else default_out(cfg)
    prepare_out(out, cfg, RESUME_KEYS)
    return out


def _run(cfg: RunConfig, out: Path, skipped: dict[str, str], scratch: Path | None) -> Path:
    """The run itself; ``scratch`` is the private folder of a rank other than 0 (None on rank 0)."""
    t0 = time.perf_counter()
    main = scratch is None
    # rank 0 first: loading may render the synthetic set into the data home, which the others then read
    data = distributed.main_first(lambda: load_benchmark_dataset(cfg.dataset, cfg.data_root, cfg.data_preset, cfg.seed))
    log.info(data.summary())
    for split in ("train", "val", "test"):
        if split not in data.splits:
            raise ValueError(f"dataset {cfg.dataset!r} has no {split!r} split; the benchmark needs train, val and test")
    config = {"run": asdict(cfg), "environment": environment(), "dataset": _dataset_info(data),
              "distributed": {"world_size": distributed.world_size(), "backend": distributed.backend(),
                              "note": "batch sizes are per process: the global batch is batch_size x world_size"},
              "methods": {}, "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if main:
        write_json(out / "config.json", config)

    results: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    histories: dict[str, list[dict]] = {}
    for name in cfg.methods:
        method = METHODS.get(name)()
        ctx = _method_context(cfg, (out if main else scratch) / "methods" / name)
        config["methods"][name] = {"paper_name": method.paper_name, **method.config(ctx)}
        if main:
            write_json(out / "config.json", config)
        ran = _run_method(method, data, ctx, out / "methods" / name)
        if ran is None:  # a rank other than 0: its scores are rank 0's to evaluate and write
            continue
        output, elapsed = ran
        histories[method.paper_name] = output.history
        rows = {method.paper_name: output.test_scores, **output.companions}
        for row_name, scores in rows.items():
            log.info("evaluating %s on %s test (%d images)", row_name, cfg.dataset, len(scores))
            res = evaluate_scores(data, "test", scores, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)
            own = row_name == method.paper_name
            row_seconds = elapsed if own else output.companion_seconds.get(row_name)
            res.update(method=name, paper_row=row_name, seconds=row_seconds, timings=output.timings if own else {})
            results[row_name] = res
            seconds[row_name] = row_seconds
        write_predictions(ctx.work_dir / "predictions.csv", data, "test", output.test_scores)
        _write_metrics(out, cfg, results, skipped)
    distributed.barrier()  # every rank leaves once rank 0 has evaluated the last method
    if not main:
        return out
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


def _method_context(cfg: RunConfig, work_dir: Path) -> RunContext:
    """The RunContext of one method of ``cfg`` working in ``work_dir`` (progress bars on rank 0 only)."""
    return RunContext(work_dir=work_dir, preset=cfg.preset, seed=cfg.seed, device=cfg.device, resume=cfg.resume,
                      weights=Path(cfg.weights) if cfg.weights else None,
                      progress=cfg.progress and distributed.is_main(),
                      cache_dir=_cache_dir(), dataset_name=cfg.dataset, overrides=dict(cfg.overrides))


def _run_method(method, data: AttributeSet, ctx: RunContext, method_dir: Path) -> tuple[MethodOutput, float] | None:
    """Run ``method`` unless a finished result is in ``method_dir`` and we are resuming.

    ``method_dir`` is the method's folder in the run folder; ``ctx.work_dir`` equals it on rank 0 and is a
    private folder on the other ranks, which return None (rank 0 alone validates and writes the scores).
    """
    main = distributed.is_main()
    done = method_dir / "scores.npz"
    reuse = ctx.resume and done.exists()
    distributed.barrier()  # every rank has looked at method_dir before rank 0 writes into it
    if ctx.resume and not reuse and method.runs_on_every_rank and distributed.is_initialized():
        if not main and method_dir.is_dir():  # the interrupted run's checkpoints, as rank 0 will read them
            shutil.copytree(method_dir, ctx.work_dir, dirs_exist_ok=True)
        distributed.barrier()  # copied before rank 0 writes new checkpoints
    if not main:
        if reuse or not method.runs_on_every_rank:
            return None
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        method.run(data, ctx)
        return None
    if reuse:
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
    t, c = time.perf_counter(), time.process_time()
    output = method.run(data, ctx)
    elapsed = time.perf_counter() - t
    # CPU time of this process over all its threads: on a shared machine it moves less than wall time
    output.timings.setdefault("cpu_seconds", time.process_time() - c)
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

    with atomic_path(done) as tmp, open(tmp, "wb") as fh:
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
            "splits": {k: len(v) for k, v in data.splits.items()}, "root": str(data.root) if data.root else None}


def _cache_dir() -> Path:
    from pa100k.fileio import data_home

    return data_home() / "cache"
