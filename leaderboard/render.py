"""HTML pages of the leaderboard, built from the package's templates (``string.Template``) and escaped values.

Every value that comes from a user or a file goes through :func:`esc`; templates hold only markup. Charts
are inline SVG (no client-side libraries, no external requests).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import cache
from importlib import resources
from string import Template
from typing import Any

from leaderboard.benchmark import BenchmarkInfo
from leaderboard.service import Board, BoardRow, pct
from leaderboard.store import ScoreRecord, SubmissionRecord
from leaderboard.submission import MAX_EXAMPLES

METRIC_LABELS = {
    "mA": "mA", "accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1",
    "rank1": "Rank-1", "rank5": "Rank-5", "rank10": "Rank-10", "rank20": "Rank-20", "mAP": "mAP", "mINP": "mINP",
}


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


@cache
def template(name: str) -> Template:
    """A page template shipped in ``leaderboard/templates``."""
    return Template(resources.files("leaderboard").joinpath("templates", name).read_text(encoding="utf-8"))


def page(title: str, content: str, nav: str = "") -> str:
    """A full HTML page around ``content`` (already HTML)."""
    return template("layout.html").substitute(title=esc(title), content=content, nav=nav)


def size_text(n: int) -> str:
    """A byte count for people (``32 MiB``)."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.0f} {unit}"
        n /= 1024
    return str(n)


def index_page(infos: Sequence[BenchmarkInfo], counts: dict[str, int]) -> str:
    """The list of benchmarks."""
    rows = []
    for info in infos:
        private = "revealed" if info.revealed() else (f"hidden until {info.reveal_at:%Y-%m-%d %H:%M} UTC"
                                                      if info.reveal_at else "hidden (no date set)")
        rows.append(
            f'<tr><td><a href="/b/{esc(info.name)}">{esc(info.title or info.name)}</a></td><td>{esc(info.task)}</td>'
            f'<td class="num">{info.size}</td><td class="num">{counts.get(info.name, 0)}</td><td>{esc(private)}</td></tr>'
        )
    return page("Benchmarks", template("index.html").substitute(rows="\n".join(rows)))


def _metric_cell(row: BoardRow, key: str) -> str:
    value = row.metrics.get(key)
    ci = row.ci.get(key)
    text = pct(value)
    if ci and value is not None:
        half = 100.0 * (ci["high"] - ci["low"]) / 2.0
        text += f' <span class="ci" title="95% interval {pct(ci["low"])} to {pct(ci["high"])}">± {half:.2f}</span>'
    data = "" if value is None else f"{value:.6f}"
    return f'<td class="num" data-key="{esc(key)}" data-value="{data}">{text}</td>'


def board_page(board: Board, visible_parts: Sequence[str]) -> str:
    """A benchmark's board: a sortable table of submissions and the paper's labelled reference rows."""
    info = board.benchmark
    header = ['<th data-key="rank" data-default-dir="asc" class="num">#</th>', '<th data-key="method" data-default-dir="asc">Method</th>']
    header += [f'<th data-key="{esc(k)}" class="num">{esc(METRIC_LABELS.get(k, k))}</th>' for k in board.metrics]
    header += ['<th data-key="date">Date</th>', '<th data-key="paper" data-default-dir="asc">Paper</th>']
    rows = []
    for r in board.rows:
        if r.reference:
            method = f'{esc(r.method)}<span class="badge" title="{esc(r.note)}">paper</span>'
            cls, rank = ' class="reference"', '<td class="num" data-value=""></td>'
        else:
            method = f'<a href="/s/{r.submission_id}">{esc(r.method)}</a> <span class="ci">{esc(r.user)}</span>'
            cls, rank = f' class="submission" data-submission="{r.submission_id}"', f'<td class="num" data-value="{r.rank}">{r.rank}</td>'
        paper = f'<a href="{esc(r.paper_url)}" rel="nofollow noopener">link</a>' if r.paper_url else ""
        cells = [rank, f'<td data-key="method" data-value="{esc(r.method)}">{method}</td>']
        cells += [_metric_cell(r, k) for k in board.metrics]
        cells += [f'<td data-key="date" data-value="{esc(r.date)}">{esc(r.date[:10])}</td>', f"<td>{paper}</td>"]
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    parts = []
    for part in ("public", "private"):
        if part == board.part:
            parts.append(f"<strong>{part} part</strong>")
        elif part in visible_parts:
            parts.append(f'<a href="/b/{esc(info.name)}?part={part}">{part} part</a>')
        else:
            when = f"{info.reveal_at:%Y-%m-%d %H:%M} UTC" if info.reveal_at else "a date not yet set"
            parts.append(f"{part} part: revealed at {esc(when)}")
    refs = [r.note for r in board.rows if r.reference]
    content = template("board.html").substitute(
        title=esc(info.title or info.name), description=esc(info.description), parts=" · ".join(parts),
        name=esc(info.name), part=esc(board.part), header="".join(header), rows="\n".join(rows),
        reference_note=esc(refs[0] if refs else "none for this benchmark"),
        unit="images" if info.task == "attributes" else "queries",
    )
    return page(info.title or info.name, content, nav=f'<a href="/b/{esc(info.name)}/submit">Submit</a>')


def report_html(report: dict[str, Any]) -> str:
    """A validation report: a summary line, the problems with their locations, the warnings."""
    head = (f"{esc(report.get('file'))}: {esc(report.get('format') or 'unknown format')}, {report.get('size', 0)} bytes, "
            f"{report.get('rows', 0)} data rows")
    counts = report.get("counts") or {}
    if not counts:
        out = [f"<p>{head}: <strong>valid</strong>.</p>"]
    else:
        total = sum(counts.values())
        out = [f'<p class="message error">{head}: <strong>{total} problem(s)</strong>.</p>', '<ul class="problems">']
        out += [f"<li>[{esc(p['code'])}] {esc(p['text'])}</li>" for p in report.get("problems", [])]
        out += [f"<li>... and {n - MAX_EXAMPLES} more [{esc(code)}] problems</li>" for code, n in counts.items()
                if n > MAX_EXAMPLES]
        out.append("</ul>")
    for w in report.get("warnings", []):
        out.append(f'<p class="note">Warning: {esc(w)}</p>')
    for k, v in (report.get("info") or {}).items():
        out.append(f'<p class="note">{esc(k)}: {esc(v)}</p>')
    return "\n".join(out)


def bars_svg(labels: Sequence[str], values: Sequence[float | None], *, title: str, width: int = 640) -> str:
    """A horizontal bar chart (inline SVG) of values in [0, 1], with the 50% chance line."""
    row, left, right = 18, 150, 60
    plot = width - left - right
    height = row * len(labels) + 30
    parts = [(f'<svg class="bars" role="img" aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg" '
              f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'), f"<title>{esc(title)}</title>"]
    for i, (label, v) in enumerate(zip(labels, values)):
        y = 10 + i * row
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{esc(label)}</text>')
        if v is not None:
            w = max(0.0, min(1.0, v)) * plot
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" fill="#1f5fa8"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 12}">{pct(v)}</text>')
        else:
            parts.append(f'<text x="{left + 4}" y="{y + 12}">undefined</text>')
    x50 = left + plot / 2
    parts.append(f'<line x1="{x50:.1f}" y1="6" x2="{x50:.1f}" y2="{height - 16}" stroke="#a11d1d" stroke-dasharray="3,3"/>')
    parts.append(f'<text x="{x50:.1f}" y="{height - 4}" text-anchor="middle">50% (chance for mA)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _part_html(info: BenchmarkInfo, part: str, res: dict[str, Any]) -> str:
    keys = list(res.get("metrics", {}))
    head = "".join(f'<th class="num">{esc(METRIC_LABELS.get(k, k))}</th>' for k in keys)
    cells = []
    for k in keys:
        v = res["metrics"][k]
        ci = res.get("ci", {}).get(k)
        text = pct(v) + (f' <span class="ci">[{pct(ci["low"])}, {pct(ci["high"])}]</span>' if ci else "")
        cells.append(f'<td class="num">{text}</td>')
    unit = "images" if info.task == "attributes" else "queries"
    out = [f"<h2>{esc(part.capitalize())} part ({res.get('n', 0)} {unit})</h2>",
           f"<table class=\"board\"><thead><tr><th>Convention</th>{head}</tr></thead><tbody>",
           f"<tr><td>{esc(res.get('convention') or res.get('protocol', ''))} (95% interval)</td>{''.join(cells)}</tr>"]
    for conv, metrics in (res.get("conventions") or {}).items():
        out.append(f"<tr><td>{esc(conv)}</td>" + "".join(f'<td class="num">{pct(metrics.get(k))}</td>' for k in keys) + "</tr>")
    out.append("</tbody></table>")
    per = res.get("per_attribute")
    if per:
        out.append(bars_svg(per["attribute"], per["mA"], title=f"Per-attribute mA, {part} part"))
    return "\n".join(out)


def submission_page(sub: SubmissionRecord, info: BenchmarkInfo, visible_parts: Sequence[str],
                    history: Sequence[ScoreRecord]) -> str:
    """One submission: metadata, aggregate scores of the visible parts with per-attribute bars, report, history."""
    parts = []
    for part in ("public", "private"):
        if part in visible_parts:
            parts.append(_part_html(info, part, getattr(sub.score, part)))
        else:
            when = f"{info.reveal_at:%Y-%m-%d %H:%M} UTC" if info.reveal_at else "a date not yet set"
            parts.append(f'<h2>Private part</h2><p class="note">Revealed at {esc(when)}.</p>')
    primary = "mA" if info.task == "attributes" else "rank1"
    hist = [('<table class="board"><thead><tr><th>Version</th><th>Scored</th><th>Scorer</th>'
             f'<th class="num">public {esc(METRIC_LABELS[primary])}</th><th>Reason</th></tr></thead><tbody>')]
    for h in history:
        hist.append(f"<tr><td>{h.version}{' (current)' if h.is_current else ''}</td><td>{esc(h.created_at)}</td>"
                    f"<td>{esc(h.scorer)}</td><td class=\"num\">{pct(h.public['metrics'].get(primary))}</td>"
                    f"<td>{esc(h.reason)}</td></tr>")
    hist.append("</tbody></table>")
    paper = f'<a href="{esc(sub.paper_url)}" rel="nofollow noopener">{esc(sub.paper_url)}</a>' if sub.paper_url else "—"
    content = template("submission.html").substitute(
        id=sub.id, method=esc(sub.method), benchmark=esc(sub.benchmark), user=esc(sub.user), date=esc(sub.created_at),
        paper=paper, description=esc(sub.description) or "—", file_name=esc(sub.file_name), format=esc(sub.format),
        size=sub.report.get("size", 0), sha256=esc(sub.file_sha256), scorer=esc(sub.score.scorer),
        version=sub.score.version, parts="\n".join(parts), report=report_html(sub.report), history="".join(hist),
    )
    return page(f"Submission {sub.id}", content, nav=f'<a href="/b/{esc(sub.benchmark)}">Board</a>')


def submit_page(info: BenchmarkInfo, quota_note: str, message: str = "") -> str:
    """The upload form of a benchmark."""
    if info.task == "attributes":
        formats = "CSV or parquet"
        help_text = ("One row per image: an <code>image</code> column with the file name, then one column per attribute "
                     "holding a probability in [0, 1] or a 0/1 label.")
    else:
        formats = "npz or ranking CSV"
        help_text = ("An .npz with <code>query_features</code>, <code>gallery_features</code> (float32), "
                     "<code>query_names</code> and <code>gallery_names</code>, or a CSV <code>query,rank1,...,"
                     f"rank{info.ranking_depth}</code> of gallery names.")
    content = template("submit.html").substitute(
        title=esc(info.title or info.name), name=esc(info.name), message=message, formats=formats,
        max_size=esc(size_text(info.max_bytes)), format_help=help_text, quota_note=esc(quota_note),
    )
    return page(f"Submit to {info.name}", content, nav=f'<a href="/b/{esc(info.name)}">Board</a>')


def message_page(heading: str, message: str, *, back: str = "/", report: dict[str, Any] | None = None,
                 kind: str = "error") -> str:
    """An error or notice page, with a validation report when there is one."""
    content = template("message.html").substitute(
        heading=esc(heading), message=esc(message), kind=esc(kind), back=esc(back),
        report=report_html(report) if report else "",
    )
    return page(heading, content)
