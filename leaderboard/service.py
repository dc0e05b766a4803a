"""The leaderboard as one object: its data folder (hidden labels, files, database) and what can be done with it.

``Leaderboard(root)`` is used by the CLI and by the web app alike. A submission goes: authenticate the
token, check the day's quota (a cheap early refusal), stage the file in ``tmp/`` (size-capped, hashed,
fsynced), validate it against the benchmark's public description, score it on the hidden labels, move the
file to its content address, then insert the submission and its score in one transaction that checks the
quota again. A crash before that commit leaves no submission; after it, a complete one.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from leaderboard.benchmark import (
    BENCHMARK_FILE,
    SYNTHETIC_TEST,
    Benchmark,
    BenchmarkInfo,
    benchmark_dir,
    build_preset,
    format_time,
    list_benchmarks,
    load_benchmark,
    save_benchmark,
    utcnow,
    with_reveal,
)
from leaderboard.blobs import BlobStore, StagedFile, UploadTooLarge
from leaderboard.scorer import ATTRIBUTE_METRICS, score, scorer_id
from leaderboard.store import (
    AuthenticationError,
    QuotaExceeded,
    ScoreRecord,
    Store,
    SubmissionRecord,
    TokenOwner,
    sqlite_url,
)
from leaderboard.submission import ParsedSubmission, ValidationReport, safe_display_name, validate_bytes, validate_file

log = logging.getLogger(__name__)

ENV_HOME = "LEADERBOARD_HOME"
DEFAULT_ROOT = Path("leaderboard") / "data"
DB_FILE = "leaderboard.sqlite3"
PAPER_URL = "https://arxiv.org/abs/1709.09930"

__all__ = ["AuthenticationError", "InvalidSubmission", "Leaderboard", "QuotaExceeded", "default_root"]


def default_root() -> Path:
    """The data folder: ``$LEADERBOARD_HOME`` or ``./leaderboard/data`` (relative to the working directory)."""
    return Path(os.environ.get(ENV_HOME) or DEFAULT_ROOT).expanduser()


class InvalidSubmission(ValueError):
    """A submission file that failed validation; ``report`` lists every problem."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.to_text())
        self.report = report


@dataclass
class SubmissionResult:
    """What a successful submission returns: its id, its validation report and its public scores."""

    id: int
    report: ValidationReport
    public: dict[str, Any]


@dataclass
class BoardRow:
    """One row of a board: a submission or one of the paper's reference rows (``reference=True``)."""

    method: str
    metrics: dict[str, float | None]
    ci: dict[str, dict[str, float]] = field(default_factory=dict)
    date: str = ""
    paper_url: str = ""
    user: str = ""
    submission_id: int | None = None
    reference: bool = False
    note: str = ""
    rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (API, export)."""
        return {
            "rank": self.rank, "method": self.method, "user": self.user, "submission_id": self.submission_id,
            "reference": self.reference, "metrics": self.metrics, "ci": self.ci, "date": self.date,
            "paper_url": self.paper_url, "note": self.note,
        }


@dataclass
class Board:
    """A benchmark's board for one part: submissions ranked by the primary metric, plus reference rows."""

    benchmark: BenchmarkInfo
    part: str
    metrics: tuple[str, ...]
    rows: list[BoardRow]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"benchmark": self.benchmark.name, "part": self.part, "metrics": list(self.metrics),
                "revealed": self.benchmark.revealed(), "rows": [r.to_dict() for r in self.rows]}


def check_metadata(method: str, paper_url: str, description: str) -> tuple[str, str, str]:
    """Normalise submission metadata: method 1-100 characters, paper link http(s) or empty, description <= 2000."""
    method = (method or "").strip()
    if not method or len(method) > 100:
        raise ValueError(f"method name must be 1-100 characters, found {len(method)}")
    paper_url = (paper_url or "").strip()
    if paper_url:
        parsed = urlparse(paper_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or len(paper_url) > 500:
            raise ValueError(f"paper link must be an http(s) URL of at most 500 characters, found {paper_url[:80]!r}")
    description = (description or "").strip()
    if len(description) > 2000:
        raise ValueError(f"description must be at most 2000 characters, found {len(description)}")
    return method, paper_url, description


def reference_rows(info: BenchmarkInfo) -> list[BoardRow]:
    """The paper's rows for the benchmark's reference dataset (Table 2 for attributes, 4 for ReID)."""
    if not info.reference_dataset:
        return []
    from benchmarks.paper import paper_rows_for

    table = 2 if info.task == "attributes" else 4
    keys = {"mA": "mA", "Accu": "accuracy", "Prec": "precision", "Recall": "recall", "F1": "f1",
            "top1": "rank1", "top5": "rank5", "top10": "rank10", "top20": "rank20"}
    out = []
    for row in paper_rows_for(info.reference_dataset, table):
        metrics = {keys[k]: v / 100.0 for k, v in row.values.items() if k in keys}
        out.append(BoardRow(method=row.method, metrics=metrics, date="2017", paper_url=PAPER_URL, reference=True,
                            note=f"HydraPlus-Net paper, Table {table}, {row.dataset}"))
    return out


class Leaderboard:
    """A leaderboard data folder: benchmarks with hidden labels, submission files and the database."""

    def __init__(self, root: str | Path | None = None, db_url: str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.root)
        self.store = Store(db_url or sqlite_url(self.root / DB_FILE))
        self._cache: dict[str, tuple[float, Benchmark]] = {}

    # ---------------------------------------------------------------- benchmarks

    def add_benchmark(self, benchmark: Benchmark, *, replace: bool = False) -> Path:
        """Store a benchmark's files and register it; an existing one is kept unless ``replace``."""
        if benchmark.name in list_benchmarks(self.root) and not replace:
            raise ValueError(f"benchmark {benchmark.name!r} already exists in {self.root}; pass replace=True (--replace)")
        folder = save_benchmark(benchmark, self.root)
        self.store.ensure_benchmark(benchmark.name, benchmark.info.task)
        self._cache.pop(benchmark.name, None)
        return folder

    def benchmark(self, name: str) -> Benchmark:
        """Benchmark ``name`` (hidden labels included), cached until its files change."""
        path = benchmark_dir(self.root, name) / BENCHMARK_FILE
        mtime = path.stat().st_mtime if path.is_file() else -1.0
        hit = self._cache.get(name)
        if hit is None or hit[0] != mtime:
            if name not in self.store.benchmark_names():
                valid = ", ".join(self.store.benchmark_names()) or "(none)"
                raise KeyError(f"unknown benchmark {name!r}; valid: {valid}")
            hit = (mtime, load_benchmark(self.root, name))
            self._cache[name] = hit
        return hit[1]

    def benchmarks(self) -> list[BenchmarkInfo]:
        """Public descriptions of the registered benchmarks."""
        return [self.benchmark(n).info for n in self.store.benchmark_names()]

    def set_reveal(self, name: str, reveal_at: datetime | None) -> BenchmarkInfo:
        """Change when the private part of ``name`` is revealed (None: not scheduled)."""
        bench = with_reveal(self.benchmark(name), reveal_at)
        save_benchmark(bench, self.root)
        self._cache.pop(name, None)
        return bench.info

    def init(self, *, preset: str = "small", seed: int = 0, public_fraction: float = 0.5,
             partition_seed: str | None = None) -> Benchmark | None:
        """Create the built-in ``synthetic-test`` benchmark if missing (renders the dataset on first use)."""
        if SYNTHETIC_TEST in self.store.benchmark_names():
            return None
        bench = build_preset(SYNTHETIC_TEST, options={"preset": preset, "seed": seed},
                             public_fraction=public_fraction, partition_seed=partition_seed)
        self.add_benchmark(bench, replace=True)
        return bench

    # ---------------------------------------------------------------- scoring and submitting

    def validate(self, path: str | Path, benchmark: str) -> ParsedSubmission:
        """Validate a local file against a benchmark's public description (reads the file only if under the cap)."""
        return validate_file(path, self.benchmark(benchmark).info)

    def score_file(self, path: str | Path, benchmark: str, *, bootstrap: int | None = None) -> tuple[ValidationReport, dict | None]:
        """Validate and score a local file without storing anything (``python -m leaderboard score``)."""
        parsed = self.validate(path, benchmark)
        if not parsed.report.ok:
            return parsed.report, None
        return parsed.report, score(self.benchmark(benchmark), parsed.predictions, bootstrap=bootstrap)

    def submit_file(self, path: str | Path, *, benchmark: str, token: str, method: str, paper_url: str = "",
                    description: str = "") -> SubmissionResult:
        """Submit a local file (the CLI): stage a copy, then :meth:`submit_staged`."""
        self.check_quota(self.store.authenticate(token))
        info = self.benchmark(benchmark).info
        try:
            staged = self.blobs.stage_file(path, info.max_bytes)
        except UploadTooLarge:
            raise InvalidSubmission(validate_file(path, info).report) from None  # the size problem, file unread
        return self.submit_staged(staged, benchmark=benchmark, token=token, method=method, paper_url=paper_url,
                                  description=description, file_name=Path(path).name)

    def check_quota(self, owner: TokenOwner) -> None:
        """Refuse early (QuotaExceeded) when the token's quota for today is used; the insert checks again atomically."""
        day = utcnow().date().isoformat()
        used = self.store.quota_used(owner.token_id, day)
        if used >= owner.daily_quota:
            raise QuotaExceeded(used, owner.daily_quota, day)

    def submit_staged(self, staged: StagedFile, *, benchmark: str, token: str, method: str, paper_url: str = "",
                      description: str = "", file_name: str | None = None) -> SubmissionResult:
        """Validate, score and store a staged (fsynced) upload; the staged file is consumed in every case.

        Raises AuthenticationError, QuotaExceeded, InvalidSubmission, or ValueError for bad metadata.
        """
        try:
            owner = self.store.authenticate(token)
            method, paper_url, description = check_metadata(method, paper_url, description)
            self.check_quota(owner)
            bench = self.benchmark(benchmark)
            staged.finish()
            data = staged.path.read_bytes()
            display = safe_display_name(file_name)
            parsed = validate_bytes(data, bench.info, display_name=display)
            if not parsed.report.ok:
                raise InvalidSubmission(parsed.report)
            scores = score(bench, parsed.predictions)
        except BaseException:
            staged.discard()
            raise
        self.blobs.commit(staged)
        record = ScoreRecord(public=scores["public"], private=scores["private"], scorer=scorer_id())
        sid = self.store.insert_submission(
            benchmark=benchmark, owner=owner, method=method, paper_url=paper_url, description=description,
            file_sha256=parsed.report.sha256, file_size=len(data), file_name=display, format=parsed.report.format,
            report=parsed.report.to_dict(), score=record,
        )
        log.debug("submission %d on %s by %s (%s): public %s", sid, benchmark, owner.user, method,
                 scores["public"]["metrics"])
        return SubmissionResult(id=sid, report=parsed.report, public=scores["public"])

    def rescore(self, *, benchmark: str | None = None, ids: Iterable[int] | None = None,
                reason: str = "") -> list[tuple[int, int | None, str]]:
        """Score stored submissions again with the current code, adding a score version to each.

        Returns ``(submission id, new version or None, message)`` per submission; earlier versions stay.
        """
        wanted = set(ids) if ids is not None else None
        out = []
        for sub in self.store.submissions(benchmark):
            if wanted is not None and sub.id not in wanted:
                continue
            bench = self.benchmark(sub.benchmark)
            data = self.blobs.read(sub.file_sha256)
            parsed = validate_bytes(data, bench.info, display_name=sub.file_name)
            if not parsed.report.ok:
                out.append((sub.id, None, f"no longer valid: {parsed.report.num_problems} problem(s)"))
                continue
            scores = score(bench, parsed.predictions)
            version = self.store.add_score_version(
                sub.id, ScoreRecord(public=scores["public"], private=scores["private"], scorer=scorer_id(),
                                    reason=reason))
            out.append((sub.id, version, "rescored"))
        if wanted is not None and wanted - {sid for sid, _, _ in out}:
            missing = sorted(wanted - {sid for sid, _, _ in out})
            raise KeyError(f"unknown submission(s) {missing}" + (f" on benchmark {benchmark!r}" if benchmark else ""))
        return out

    # ---------------------------------------------------------------- reading

    def visible_parts(self, benchmark: str) -> list[str]:
        """Parts whose scores may be shown now: public always, private once revealed."""
        info = self.benchmark(benchmark).info
        return ["public", "private"] if info.revealed() else ["public"]

    def board(self, benchmark: str, part: str | None = None) -> Board:
        """The board of ``benchmark`` for ``part`` (default: private once revealed, else public)."""
        info = self.benchmark(benchmark).info
        visible = self.visible_parts(benchmark)
        part = part or visible[-1]
        if part not in ("public", "private"):
            raise ValueError(f"part must be public or private, found {part!r}")
        if part not in visible:
            when = format_time(info.reveal_at) if info.reveal_at else "a date not yet set"
            raise PermissionError(f"the private part of {benchmark!r} is revealed at {when}")
        metric_keys = ATTRIBUTE_METRICS if info.task == "attributes" else ("rank1", "rank5", "rank10", "mAP", "mINP")
        rows = []
        for sub in self.store.submissions(benchmark):
            res = sub.score.public if part == "public" else sub.score.private
            rows.append(BoardRow(method=sub.method, metrics={k: res["metrics"].get(k) for k in metric_keys},
                                 ci=res.get("ci", {}), date=sub.created_at, paper_url=sub.paper_url, user=sub.user,
                                 submission_id=sub.id))
        primary = metric_keys[0]
        rows.sort(key=lambda r: (-(r.metrics.get(primary) or 0.0), r.submission_id or 0))
        for k, row in enumerate(rows, start=1):
            row.rank = k
        refs = reference_rows(info)
        merged = sorted(rows + refs, key=lambda r: -(r.metrics.get(primary) or 0.0))
        return Board(benchmark=info, part=part, metrics=metric_keys, rows=merged)

    def submission(self, submission_id: int) -> SubmissionRecord:
        """A stored submission (KeyError when unknown)."""
        return self.store.submission(submission_id)

    def export(self, benchmark: str, fmt: str = "csv", part: str | None = None) -> str:
        """The board as CSV or Markdown text (metrics in percent, two decimals)."""
        board = self.board(benchmark, part)
        header = ["rank", "method", "kind", "user"]
        for k in board.metrics:
            header += [k, f"{k}_low", f"{k}_high"] if k in ("mA", "rank1", "mAP") else [k]
        header += ["date", "paper"]
        table = []
        for r in board.rows:
            line = [str(r.rank or ""), r.method, "paper" if r.reference else "submission", r.user]
            for k in board.metrics:
                line.append(pct(r.metrics.get(k)))
                if k in ("mA", "rank1", "mAP"):
                    ci = r.ci.get(k, {})
                    line += [pct(ci.get("low")), pct(ci.get("high"))]
            line += [r.date, r.paper_url]
            table.append(line)
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(table)
            return buf.getvalue()
        if fmt in ("md", "markdown"):
            esc = lambda s: str(s).replace("|", "\\|")
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(esc(c) for c in line) + " |" for line in table]
            title = f"{board.benchmark.title or board.benchmark.name} ({board.part} part)"
            return f"### {title}\n\n" + "\n".join(lines) + "\n"
        raise ValueError(f"export format must be csv or markdown, found {fmt!r}")

    # ---------------------------------------------------------------- maintenance

    def recover(self, stale_after_s: float = 3600.0) -> int:
        """Remove staged uploads left by crashed processes (older than ``stale_after_s``)."""
        return self.blobs.remove_stale(stale_after_s)

    def verify(self) -> list[str]:
        """Consistency problems: database checks, and every submission's file present with the right hash."""
        problems = self.store.integrity_problems()
        for sha in self.store.file_hashes():
            try:
                self.blobs.read(sha)
            except (FileNotFoundError, ValueError) as exc:
                problems.append(str(exc))
        return problems


def pct(v: float | None, empty: str = "") -> str:
    """A fraction as a percentage with two decimals, as the paper's tables print them (``empty`` for None)."""
    return empty if v is None else f"{100.0 * v:.2f}"
