"""The paper's own numbers (Tables 2 and 4), from the package's copy of ``tables.csv``."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Which paper dataset a suite dataset is compared with.
PAPER_DATASET = {
    "synthetic": "PA-100K",
    "pa100k": "PA-100K",
    "rap": "RAP",
    "peta": "PETA",
    "synthetic_reid": "Market-1501",
    "market1501": "Market-1501",
    "cuhk03": "CUHK03",
    "viper": "VIPeR",
}
ATTRIBUTE_METRICS = ("mA", "Accu", "Prec", "Recall", "F1")


@dataclass(frozen=True)
class PaperRow:
    """One method's numbers for one dataset in one of the paper's tables (percent)."""

    table: int
    dataset: str
    method: str
    values: dict[str, float]


@lru_cache(maxsize=1)
def paper_rows() -> tuple[PaperRow, ...]:
    """Every (table, dataset, method) row of the paper, in the order of the CSV."""
    text = Path(__file__).with_name("paper_tables.csv").read_text(encoding="utf-8")
    rows: dict[tuple[int, str, str], dict[str, float]] = {}
    for rec in csv.DictReader(io.StringIO(text)):
        key = (int(rec["table"]), rec["dataset"], rec["method"])
        rows.setdefault(key, {})[rec["metric"]] = float(rec["value"])
    return tuple(PaperRow(t, d, m, v) for (t, d, m), v in rows.items())


def paper_rows_for(dataset: str, table: int | None = None) -> list[PaperRow]:
    """The paper's rows to show beside a run on the suite dataset ``dataset`` (may be empty)."""
    target = PAPER_DATASET.get(dataset, dataset)
    return [r for r in paper_rows() if r.dataset == target and (table is None or r.table == table)]
