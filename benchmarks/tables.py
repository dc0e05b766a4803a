"""Markdown/console tables of our results beside the paper's rows."""

from __future__ import annotations

from typing import Any

from benchmarks.paper import ATTRIBUTE_METRICS, paper_rows_for

OUR_KEYS = ("mA", "accuracy", "precision", "recall", "f1")
SYNTHETIC_NOTE = ("Synthetic-data numbers measure the suite on its own rendered data; they are NOT comparable "
                  "with the paper's PA-100K numbers shown for reference.")


def _fmt(value: float | None, ci: list[float] | None = None) -> str:
    if value is None:
        return "n/a"
    s = f"{100 * value:.2f}"
    if ci is not None and ci[0] is not None and ci[1] is not None:
        s += f" ± {100 * (ci[1] - ci[0]) / 2:.2f}"
    return s


def results_table(dataset: str, rows: list[dict[str, Any]], with_paper: bool = True) -> str:
    """A Markdown table: one row per (run, method) with li2016 metrics ± half the 95% interval, then the paper's rows.

    Each entry of ``rows`` has ``name``, ``metrics`` (the evaluate_scores dict) and optional ``seconds``; the
    time cell adds the process's CPU time (all threads) where ``metrics["timings"]`` has ``cpu_seconds``.
    """
    header = "| source | method | mA | Accu | Prec | Recall | F1 | wall time |"
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        m = row["metrics"]
        ci = m.get("ci95", {})
        cells = [_fmt(m.get(k), ci.get(k)) for k in OUR_KEYS]
        secs, cpu = row.get("seconds"), m.get("timings", {}).get("cpu_seconds")
        wall = f"{secs / 60:.1f} min" if secs is not None else ""
        if wall and cpu is not None:
            wall += f" ({cpu / 60:.1f} CPU-min)"
        lines.append(f"| ours ({dataset}) | {row['name']} | " + " | ".join(cells) + f" | {wall} |")
    if with_paper:
        for prow in paper_rows_for(dataset, table=2):
            cells = [f"{prow.values[k]:.2f}" if k in prow.values else "n/a" for k in ATTRIBUTE_METRICS]
            lines.append(f"| paper ({prow.dataset}) | {prow.method} | " + " | ".join(cells) + " | |")
    return "\n".join(lines)
