"""``python -m benchmarks.report RUN_DIR... [--out report.md]``: our runs beside the paper's Table 2/4 rows."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks import figures
from benchmarks.tables import SYNTHETIC_NOTE, results_table
from pa100k.fileio import atomic_write


def load_run(run_dir: Path) -> dict:
    """metrics.json and config.json of a run folder, with clear errors."""
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.exists():
        raise FileNotFoundError(f"{metrics_path}: not found; is {run_dir} a finished run folder?")
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{run_dir}: unreadable JSON ({exc})") from None
    return {"dir": run_dir, "metrics": metrics, "config": config}


def build_report(run_dirs: Sequence[Path], out: Path | None = None) -> str:
    """The Markdown report (and a combined per-attribute figure beside ``out``)."""
    runs = [load_run(Path(d)) for d in run_dirs]
    by_dataset: dict[str, list[dict]] = {}
    for run in runs:
        by_dataset.setdefault(run["metrics"]["dataset"], []).append(run)
    parts = ["# pa100k-bench report", ""]
    for dataset, druns in by_dataset.items():
        task = druns[0]["metrics"].get("task", "attributes")
        rows = []
        per_attr: dict[str, list] = {}
        for run in druns:
            for row_name, res in run["metrics"]["methods"].items():
                label = row_name if len(druns) == 1 else f"{row_name} ({run['dir'].name})"
                rows.append({"name": label, "metrics": res, "seconds": res.get("seconds")})
                if "per_attribute" in res:
                    per_attr[label] = res["per_attribute"]["mA_j"]
        parts.append(f"## {dataset} ({task}, test split)")
        parts.append("")
        if task == "reid":
            from benchmarks.reid_tables import reid_results_table

            parts.append(reid_results_table(dataset, rows))
        else:
            parts.append(results_table(dataset, rows))
        parts.append("")
        note = druns[0]["metrics"].get("note") or (SYNTHETIC_NOTE if dataset.startswith("synthetic") else "")
        if note:
            parts.append(f"> {note}")
            parts.append("")
        if task == "reid":
            parts.append("Values in percent; ours: cosine distance, the dataset's own protocol, ± half the bootstrap "
                         "95% interval over query identities.")
        else:
            parts.append("Values in percent; ours: li2016 convention, ± half the bootstrap 95% interval over test images.")
        parts.append("")
        for run in druns:
            for reason in run["metrics"].get("skipped", {}).values():
                parts.append(f"- not run: {reason}")
        parts.append("")
        if per_attr and out is not None:
            schema_attrs = druns[0]["config"].get("dataset", {}).get("attributes")
            if schema_attrs is None:
                import pa100k

                schema_attrs = pa100k.get_schema(druns[0]["config"]["dataset"]["schema"]).attributes
            fig = out.with_name(f"{out.stem}-{dataset}-per_attribute.png")
            figures.per_attribute_bars(fig, schema_attrs, per_attr, title=f"{dataset}: mA per attribute")
            parts.append(f"![per-attribute mA]({fig.name})")
            parts.append("")
    text = "\n".join(parts)
    if out is not None:
        with atomic_write(out) as fh:
            fh.write(text + "\n")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    p.add_argument("runs", nargs="+", type=Path, help="run folders written by benchmarks.run")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown here (and the figure beside it)")
    args = p.parse_args(argv)
    try:
        text = build_report(args.runs, args.out)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
