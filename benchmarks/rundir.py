"""Writing a run folder: config, metrics, per-attribute table, predictions, log."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpnet import distributed
from pa100k.attribute_set import AttributeSet
from pa100k.fileio import atomic_write


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path) as fh:
        json.dump(obj, fh, indent=2, sort_keys=False, default=_json_default)
        fh.write("\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def prepare_out(out: Path, cfg: Any, keys: Sequence[str]) -> None:
    """Create the run folder ``out`` (absent or empty), or with ``cfg.resume`` check the folder being resumed.

    A resumed folder's config.json must hold the same ``keys`` of the run settings (the dataclass ``cfg``) and
    the same number of torchrun processes; each difference is named.
    """
    if cfg.resume:
        path = out / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"--resume: {path} not found; nothing to resume in {out}")
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            old = stored["run"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise ValueError(f"--resume: {path} is not a run config ({exc})") from None
        new = asdict(cfg)
        diffs = [f"{k}: folder has {old.get(k)!r}, this command has {new.get(k)!r}"
                 for k in keys if old.get(k) != new.get(k)]
        world = stored.get("distributed", {}).get("world_size", 1)  # folders from before torchrun support: 1
        if world != distributed.world_size():  # the global batch, and so the training, depends on it
            diffs.append(f"world_size (torchrun processes): folder has {world}, "
                         f"this command has {distributed.world_size()}")
        if diffs:
            raise ValueError(f"--resume: {out} was made with another configuration: " + "; ".join(diffs))
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f"--out {out} exists and is not empty; use --resume to continue it or another --out")
    out.mkdir(parents=True, exist_ok=True)


def write_predictions(path: Path, data: AttributeSet, split: str, scores: np.ndarray) -> None:
    """The leaderboard's submission format: ``image`` then one probability column per attribute.

    Scores are written in full (shortest exact decimal), so the file scores to exactly the reported metrics:
    a probability within 5e-7 of the threshold would flip its decision if rounded to six decimals.
    """
    idx = data.split_indices(split)
    df = pd.DataFrame(np.asarray(scores, dtype=np.float64), columns=list(data.schema.attributes))
    df.insert(0, "image", data.names[idx])
    with atomic_write(path) as fh:
        df.to_csv(fh, index=False)


def write_per_attribute(path: Path, data: AttributeSet, results: dict[str, dict]) -> pd.DataFrame:
    """One row per attribute: support, then mA_j and per-attribute F1 of every method row."""
    rows: dict[str, Any] = {"attribute": list(data.schema.attributes)}
    first = next(iter(results.values()))["per_attribute"]
    rows["support_pos"] = first["support_pos"]
    rows["support_neg"] = first["support_neg"]
    for row_name, res in results.items():
        pa = res["per_attribute"]
        rows[f"{row_name} mA"] = pa["mA_j"]
        rows[f"{row_name} pos_recall"] = pa["positive_recall"]
        rows[f"{row_name} neg_recall"] = pa["negative_recall"]
        rows[f"{row_name} F1"] = pa["f1"]
    df = pd.DataFrame(rows)
    with atomic_write(path) as fh:
        df.to_csv(fh, index=False, float_format="%.6f")
    return df


def environment() -> dict[str, Any]:
    """Versions, platform and git commit, for config.json."""
    import torch

    import pa100k

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "pa100k_bench": pa100k.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "command": " ".join(sys.argv),
        "git_commit": git_commit(),
    }
    return info


def git_commit() -> str | None:
    """The commit of the source tree, with ``-dirty`` when it has uncommitted changes; None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=False)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def add_file_log(path: Path) -> logging.Handler:
    """Send the library's log records to ``path`` too (log.txt of the run)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    return handler
