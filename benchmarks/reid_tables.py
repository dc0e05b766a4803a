"""Markdown table of ReID results (CMC top-k, mAP, mINP) beside the paper's Table 4."""

from __future__ import annotations

from typing import Any

from benchmarks.paper import paper_rows_for

RANKS = (1, 5, 10, 20)


def _pct(v: float | None, ci: list[float] | None = None) -> str:
    if v is None:
        return "n/a"
    s = f"{100 * v:.2f}"
    if ci:
        s += f" ± {100 * (ci[1] - ci[0]) / 2:.2f}"
    return s


def reid_results_table(dataset: str, rows: list[dict[str, Any]], with_paper: bool = True) -> str:
    """One row per (run, method): CMC top-1/5/10/20, mAP and mINP in percent; then the paper's Table 4 rows."""
    lines = ["| source | method | top-1 | top-5 | top-10 | top-20 | mAP | mINP |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        m = row["metrics"]
        ci = m.get("ci95", {})
        cells = [_pct(m.get(f"top{k}"), ci.get(f"top{k}")) for k in RANKS]
        cells += [_pct(m.get("mAP"), ci.get("mAP")), _pct(m.get("mINP"), ci.get("mINP"))]
        lines.append(f"| ours ({dataset}) | {row['name']} | " + " | ".join(cells) + " |")
    if with_paper:
        for prow in paper_rows_for(dataset, table=4):
            cells = [f"{prow.values[k]:.2f}" if k in prow.values else "n/a" for k in ("top1", "top5", "top10", "top20")]
            lines.append(f"| paper ({prow.dataset}) | {prow.method} | " + " | ".join(cells) + " | n/a | n/a |")
    return "\n".join(lines)
