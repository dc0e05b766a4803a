"""Submission formats and their validation (see ``leaderboard/README.md`` for the formats).

Attributes: a CSV (UTF-8, comma-separated, header line) or a parquet file with an ``image`` column
holding the file names of the benchmark's split list and one column per attribute of the schema, each
holding probabilities in [0, 1] or 0/1 labels. ReID: an ``.npz`` with ``query_features`` and
``gallery_features`` (float32, same dimension) and ``query_names`` / ``gallery_names``, or a ranking CSV
with a ``query`` column and ``rank1`` ... ``rankK`` columns of gallery names (K = the benchmark's
``ranking_depth``, 100 unless the gallery is smaller).

Validation reads only the file and the benchmark's public :class:`~leaderboard.benchmark.BenchmarkInfo`
(schema, image names, size cap), never the hidden labels, and reports every problem it finds in one
:class:`ValidationReport` with line (CSV), row (parquet, npz) and column positions. The format is told
from the file's bytes, never from the client's file name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.benchmark import BenchmarkInfo

MAX_EXAMPLES = 20
"""Problems of one kind listed in a report; the report still counts all of them."""

PROBLEM_CODES: dict[str, str] = {
    "size": "the file is larger than the benchmark's cap (or decompresses to more than allowed)",
    "empty": "the file is empty or holds no data rows",
    "archive": "an archive or compressed file (zip, gzip, bz2, xz, 7z, rar, tar, zstd): upload the file itself",
    "format": "the file is not a CSV, parquet or npz file, or cannot be parsed as one",
    "encoding": "the CSV is not UTF-8 text",
    "delimiter": "the CSV is not comma-separated",
    "fields": "a CSV line has more or fewer fields than the header",
    "missing-column": "a required column (or npz key) is absent",
    "unknown-column": "a column that is not part of the format",
    "duplicate-column": "a column name given twice",
    "dtype": "a value or column of the wrong type",
    "shape": "an array of the wrong shape",
    "missing-value": "an empty cell or null value",
    "nan": "a NaN value",
    "inf": "an infinite value",
    "range": "a value outside [0, 1]",
    "duplicate-image": "an image (or query) listed twice",
    "unknown-image": "an image name that is not in the benchmark's split list",
    "missing-images": "images of the split list that the file does not hold",
    "duplicate-gallery": "a gallery image ranked twice for one query",
}

_ARCHIVE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PARQUET_MAGIC = b"PAR1"
_NPY_MAGIC = b"\x93NUMPY"
NPZ_KEYS = ("query_features", "gallery_features", "query_names", "gallery_names")


@dataclass
class Problem:
    """One validation problem and where it is: CSV ``line`` (header = line 1), data ``row`` (1-based), column."""

    code: str
    message: str
    line: int | None = None
    row: int | None = None
    column: str | None = None
    column_number: int | None = None

    def where(self) -> str:
        """``line 5, column 'Female' (2)``-style location, empty when the problem concerns the whole file."""
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        elif self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}" + (f" ({self.column_number})" if self.column_number else ""))
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


@dataclass
class ValidationReport:
    """Everything validation found in one file: problems (errors), warnings and what was detected."""

    file: str
    size: int = 0
    sha256: str = ""
    format: str = ""
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the file has no problem and can be scored."""
        return not self.counts

    @property
    def num_problems(self) -> int:
        """All problems found, including those not listed."""
        return sum(self.counts.values())

    def add(self, code: str, message: str, **where: Any) -> None:
        """Record a problem; only the first MAX_EXAMPLES of each code are kept, all are counted."""
        if code not in PROBLEM_CODES:
            raise KeyError(f"unknown problem code {code!r}; valid: {', '.join(PROBLEM_CODES)}")
        self.counts[code] = self.counts.get(code, 0) + 1
        if self.counts[code] <= MAX_EXAMPLES:
            self.problems.append(Problem(code, message, **where))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (stored with each submission, returned by the API)."""
        d = asdict(self)
        d["ok"] = self.ok
        d["problems"] = [{**asdict(p), "text": str(p)} for p in self.problems]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValidationReport:
        """Inverse of :meth:`to_dict`."""
        probs = [Problem(**{k: v for k, v in p.items() if k != "text"}) for p in d.get("problems", [])]
        return cls(
            file=d["file"], size=d.get("size", 0), sha256=d.get("sha256", ""), format=d.get("format", ""),
            rows=d.get("rows", 0), problems=probs, counts=dict(d.get("counts", {})),
            warnings=list(d.get("warnings", [])), info=dict(d.get("info", {})),
        )

    def to_text(self) -> str:
        """A human-readable report: a summary line, then one line per problem and warning."""
        head = f"{self.file}: {self.format or 'unknown format'}, {self.size} bytes, {self.rows} data rows"
        if self.ok:
            lines = [f"{head}: valid"]
        else:
            lines = [f"{head}: {self.num_problems} problem(s)"]
            for p in self.problems:
                lines.append(f"  error [{p.code}] {p}")
            for code, n in self.counts.items():
                if n > MAX_EXAMPLES:
                    lines.append(f"  ... and {n - MAX_EXAMPLES} more [{code}] problems")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass
class AttributePredictions:
    """Scores aligned with the benchmark's image order: ``scores`` (N, A) float64, ``score_type`` prob|label."""

    scores: np.ndarray
    score_type: str


@dataclass
class ReIDFeatures:
    """Query and gallery features (float32) aligned with the benchmark's query and gallery order."""

    query_features: np.ndarray
    gallery_features: np.ndarray


@dataclass
class ReIDRanking:
    """Per query (benchmark order), the indices of its top-K gallery images, best first."""

    ranking: np.ndarray  # (Q, K) int64 indices into the gallery


Predictions = AttributePredictions | ReIDFeatures | ReIDRanking


@dataclass
class ParsedSubmission:
    """A validation report and, when it is clean, the predictions it read."""

    report: ValidationReport
    predictions: Predictions | None = None


# --------------------------------------------------------------------------------------------------
# entry points


def safe_display_name(name: str | None, default: str = "upload") -> str:
    """A client file name reduced to something safe to show: its last path part, printable, <= 100 chars."""
    if not name:
        return default
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] not in "CZ" or c == " ").strip()
    base = base.lstrip(".") or default
    return base[:100]


def validate_file(path: str | Path, info: BenchmarkInfo, *, display_name: str | None = None) -> ParsedSubmission:
    """Validate the submission at ``path`` for ``info`` (size first, so an oversized file is never read)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"submission file {path} not found")
    size = path.stat().st_size
    name = display_name or safe_display_name(path.name)
    if info.max_bytes and size > info.max_bytes:
        report = ValidationReport(file=name, size=size)
        report.add("size", f"the file has {size} bytes; benchmark {info.name!r} accepts at most {info.max_bytes}")
        return ParsedSubmission(report)
    return validate_bytes(path.read_bytes(), info, display_name=name)


def validate_bytes(data: bytes, info: BenchmarkInfo, *, display_name: str = "upload") -> ParsedSubmission:
    """Validate submission ``data`` for ``info``: detect the format from the bytes, then check everything."""
    report = ValidationReport(file=display_name, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    if info.max_bytes and len(data) > info.max_bytes:
        report.add("size", f"the file has {len(data)} bytes; benchmark {info.name!r} accepts at most {info.max_bytes}")
        return ParsedSubmission(report)
    if not data:
        report.add("empty", "the file is empty (0 bytes)")
        return ParsedSubmission(report)
    kind = sniff_format(data)
    report.format = kind
    if kind in ("gzip", "bzip2", "xz", "7z", "rar", "zstd", "tar"):
        report.add("archive", f"the file is a {kind} archive; archives and compressed files are refused: upload the "
                              f"{'CSV or parquet' if info.task == 'attributes' else 'npz or CSV'} file itself")
        return ParsedSubmission(report)
    if kind == "npy":
        report.add("format", "the file is a single .npy array; expected "
                             + ("a CSV or parquet table" if info.task == "attributes" else f"an .npz with {', '.join(NPZ_KEYS)}"))
        return ParsedSubmission(report)
    readers = _ATTRIBUTE_READERS if info.task == "attributes" else _REID_READERS
    if kind not in readers:
        expected = "CSV or parquet" if info.task == "attributes" else "npz or ranking CSV"
        what = "a zip archive (archives are refused)" if kind == "zip" else kind
        report.add("archive" if kind == "zip" else "format", f"the file is {what}; benchmark {info.name!r} expects {expected}")
        return ParsedSubmission(report)
    predictions = readers[kind](data, info, report)
    return ParsedSubmission(report, predictions if report.ok else None)


def sniff_format(data: bytes) -> str:
    """The file's format from its first bytes: csv, parquet, zip, npz, npy or an archive kind."""
    if data.startswith(_PARQUET_MAGIC):
        return "parquet"
    if data.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = zf.namelist()
        except zipfile.BadZipFile:
            return "zip"
        return "npz" if members and all(m.endswith(".npy") and "/" not in m for m in members) else "zip"
    if data.startswith(_NPY_MAGIC):
        return "npy"
    for magic, kind in _ARCHIVE_MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) > 262 and data[257:262] == b"ustar":
        return "tar"
    return "csv"


# --------------------------------------------------------------------------------------------------
# shared checks


@dataclass
class _Table:
    """Column-wise cells read from a CSV or parquet file, with a function giving each data row's location."""

    header: list[str]
    columns: dict[str, list]  # first occurrence of each column name -> cell values (str or None)
    locate: Callable[[int], dict[str, int]]
    nrows: int


def _closest(name: str, candidates: Sequence[str]) -> str | None:
    """A candidate equal to ``name`` up to case and surrounding spaces, if any."""
    key = name.strip().casefold()
    for c in candidates:
        if c.casefold() == key:
            return c
    return None


def _check_columns(header: list[str], expected: Sequence[str], report: ValidationReport, *, key_word: str = "column") -> None:
    """Missing, unknown and duplicated columns, each with its 1-based column number and a hint."""
    seen: dict[str, int] = {}
    for j, col in enumerate(header, start=1):
        if col in seen:
            report.add("duplicate-column", f"{key_word} {col!r} appears twice (first as {key_word} {seen[col]})",
                       column=col, column_number=j)
        else:
            seen[col] = j
    for j, col in enumerate(header, start=1):
        if col not in expected and seen.get(col) == j:
            hint = _closest(col, expected)
            extra = f"; did you mean {hint!r}?" if hint else ""
            report.add("unknown-column", f"unknown {key_word} {col!r}{extra}", column=col, column_number=j)
    for col in expected:
        if col not in seen:
            hint = _closest(col, header)
            extra = f" (found {hint!r}: names are case-sensitive)" if hint else ""
            report.add("missing-column", f"required {key_word} {col!r} is missing{extra}", column=col)


def _align_names(values: list, expected: np.ndarray, locate: Callable[[int], dict], report: ValidationReport,
                 *, column: str, what: str, benchmark: str) -> np.ndarray:
    """Map each listed name to its index in ``expected``; reports empty, duplicated, unknown and missing names.

    Returns per row the index into ``expected`` (-1 for a bad row).
    """
    index = {name: i for i, name in enumerate(expected.tolist())}
    first_row: dict[str, int] = {}
    out = np.full(len(values), -1, dtype=np.int64)
    for r, name in enumerate(values):
        where = {**locate(r), "column": column}
        if name is None or name == "":
            report.add("missing-value", f"empty {what} name", **where)
            continue
        if name in first_row:
            first = locate(first_row[name])
            at = f"line {first['line']}" if "line" in first else f"row {first['row']}"
            report.add("duplicate-image", f"{what} {name!r} is listed again (first at {at})", **where)
            continue
        first_row[name] = r
        if name not in index:
            base = re.split(r"[\\/]", name)[-1]
            hint = f"; did you mean {base!r}? names carry no folder" if base != name and base in index else ""
            report.add("unknown-image", f"unknown {what} {name!r}: not in the split list of benchmark {benchmark!r}{hint}",
                       **where)
            continue
        out[r] = index[name]
    found = np.zeros(len(expected), dtype=bool)
    found[out[out >= 0]] = True
    if not found.all():
        missing = expected[~found].tolist()
        shown = ", ".join(repr(m) for m in missing[:10]) + (", ..." if len(missing) > 10 else "")
        report.add("missing-images", f"{len(missing)} of the {len(expected)} {what}s of benchmark {benchmark!r} "
                                     f"are missing: {shown}", column=column)
    return out


def _to_float(cells: list, locate: Callable[[int], dict], column: str, column_number: int | None,
              report: ValidationReport) -> tuple[np.ndarray, np.ndarray]:
    """Parse text cells as floats; returns (values with NaN where unusable, mask of parsed cells)."""
    arr = np.asarray(cells, dtype=object)
    try:
        values = arr.astype(np.float64)
        return values, np.ones(len(values), dtype=bool)
    except (ValueError, TypeError):
        pass
    values = np.full(len(cells), np.nan)
    ok = np.zeros(len(cells), dtype=bool)
    for r, cell in enumerate(cells):
        where = {**locate(r), "column": column, "column_number": column_number}
        if cell is None or str(cell).strip() == "":
            report.add("missing-value", "empty value; expected a probability in [0, 1] or a 0/1 label", **where)
            continue
        try:
            values[r] = float(cell)
            ok[r] = True
        except ValueError:
            report.add("dtype", f"{str(cell)[:40]!r} is not a number; expected a probability in [0, 1] or a 0/1 label",
                       **where)
    return values, ok


def _check_values(values: np.ndarray, ok: np.ndarray, locate: Callable[[int], dict], column: str,
                  column_number: int | None, report: ValidationReport) -> None:
    """NaN, infinite and out-of-range values, each reported with its location."""
    for r in np.flatnonzero(ok & np.isnan(values)):
        report.add("nan", "value is NaN; expected a probability in [0, 1] or a 0/1 label",
                   **locate(int(r)), column=column, column_number=column_number)
    for r in np.flatnonzero(ok & np.isinf(values)):
        report.add("inf", f"value is {values[r]}; expected a probability in [0, 1] or a 0/1 label",
                   **locate(int(r)), column=column, column_number=column_number)
    with np.errstate(invalid="ignore"):
        bad = ok & np.isfinite(values) & ((values < 0) | (values > 1))
    for r in np.flatnonzero(bad):
        report.add("range", f"value {values[r]:g} is outside [0, 1] (apply a sigmoid to logits)",
                   **locate(int(r)), column=column, column_number=column_number)


def _attribute_predictions(table: _Table, info: BenchmarkInfo, report: ValidationReport,
                           parsed: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> AttributePredictions | None:
    """Checks shared by CSV and parquet once cells are read; the aligned score matrix when all is well."""
    attributes = list(info.attributes)
    _check_columns(table.header, ["image", *attributes], report)
    rows = (_align_names(table.columns["image"], info.names, table.locate, report, column="image", what="image",
                         benchmark=info.name)
            if "image" in table.columns else np.full(table.nrows, -1, dtype=np.int64))
    matrix = np.full((table.nrows, len(attributes)), np.nan)
    for j, attr in enumerate(attributes):
        if attr not in table.columns:
            continue
        number = table.header.index(attr) + 1
        if parsed is not None and attr in parsed:
            values, ok = parsed[attr]
        else:
            values, ok = _to_float(table.columns[attr], table.locate, attr, number, report)
        _check_values(values, ok, table.locate, attr, number, report)
        matrix[:, j] = values
    if not report.ok:
        return None
    scores = np.empty((len(info.names), len(attributes)), dtype=np.float64)
    scores[rows] = matrix
    is_label = bool(np.isin(scores, (0.0, 1.0)).all())
    report.info["value_type"] = "label" if is_label else "probability"
    if is_label:
        report.warnings.append("every value is 0 or 1: scored as hard labels (no threshold applied)")
    return AttributePredictions(scores=scores, score_type="label" if is_label else "prob")


# --------------------------------------------------------------------------------------------------
# CSV


def _decode(data: bytes, report: ValidationReport) -> str | None:
    """The file as text (UTF-8, optional BOM); encoding problems are reported with their line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        report.add("encoding", "the file is UTF-16 or UTF-32 (byte-order mark found); save it as UTF-8")
        return None
    nul = data.find(b"\x00")
    if nul >= 0:
        report.add("encoding", f"the file holds NUL bytes (first at byte {nul}): binary data or UTF-16 text; "
                               "expected a UTF-8 CSV", line=data[:nul].count(b"\n") + 1)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        report.add("encoding", f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}; save the file as "
                               "UTF-8", line=line)
        return None


def _read_csv(data: bytes, report: ValidationReport) -> _Table | None:
    """Parse a comma-separated file with a header line; rows with a wrong field count are reported and skipped."""
    text = _decode(data, report)
    if text is None:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        header = next(reader, None)
        for row in reader:
            if row:
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        report.add("format", f"CSV syntax error: {exc}", line=reader.line_num)
        return None
    if not header or header == [""]:
        report.add("empty", "the file has no header line")
        return None
    if len(header) == 1:
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "vertical bar")):
            if sep in header[0]:
                report.add("delimiter", f"the header is {name}-separated; columns must be separated by commas", line=1)
                return None
    if not rows:
        report.add("empty", "the file has a header line but no data rows")
        return None
    width = len(header)
    good = []
    for row, line in zip(rows, lines):
        if len(row) != width:
            report.add("fields", f"{len(row)} fields; the header has {width}", line=line)
        else:
            good.append(line)
    report.rows = len(rows)
    kept = [row for row in rows if len(row) == width]
    cols = list(zip(*kept)) if kept else [()] * width
    columns: dict[str, list] = {}
    for j, name in enumerate(header):
        columns.setdefault(name, list(cols[j]))
    return _Table(header=header, columns=columns, locate=lambda r: {"line": good[r]}, nrows=len(kept))


def _read_attributes_csv(data: bytes, info: BenchmarkInfo, report: ValidationReport) -> AttributePredictions | None:
    table = _read_csv(data, report)
    if table is None:
        return None
    return _attribute_predictions(table, info, report)


# --------------------------------------------------------------------------------------------------
# parquet


def _read_attributes_parquet(data: bytes, info: BenchmarkInfo, report: ValidationReport) -> AttributePredictions | None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
        meta = pf.metadata
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        report.add("format", f"not a readable parquet file ({exc})")
        return None
    report.rows = meta.num_rows
    if meta.num_rows == 0:
        report.add("empty", "the parquet file holds no rows")
        return None
    if meta.num_rows > 2 * len(info.names) + 100:
        report.add("size", f"{meta.num_rows} rows; benchmark {info.name!r} has {len(info.names)} images")
        return None
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if info.max_bytes and unpacked > 8 * info.max_bytes:
        report.add("size", f"the parquet data decompresses to {unpacked} bytes; at most {8 * info.max_bytes} allowed")
        return None
    try:
        table = pf.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        report.add("format", f"cannot read the parquet data ({exc})")
        return None
    header = list(schema.names)
    n = meta.num_rows
    columns: dict[str, list] = {}
    parsed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for j, name in enumerate(header):
        if name in columns or (name != "image" and name not in info.attributes):
            continue  # duplicated and unknown columns are reported by the shared checks
        col = table.column(j)
        typ = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
        columns[name] = []
        if name == "image":
            if pa.types.is_string(typ) or pa.types.is_large_string(typ):
                columns[name] = col.cast(pa.string()).to_pylist()
            else:
                report.add("dtype", f"column has type {typ}; expected string (the image file names)",
                           column=name, column_number=j + 1)
                columns[name] = [None] * n
            continue
        if not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)):
            report.add("dtype", f"column has type {typ}; expected float, integer or boolean", column=name,
                       column_number=j + 1)
            parsed[name] = (np.full(n, np.nan), np.zeros(n, dtype=bool))
            continue
        nulls = pc.is_null(col).to_numpy(zero_copy_only=False)
        for r in np.flatnonzero(nulls):
            report.add("missing-value", "null value; expected a probability in [0, 1] or a 0/1 label",
                       row=int(r) + 1, column=name, column_number=j + 1)
        values = pc.fill_null(col.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False).astype(np.float64)
        parsed[name] = (values, ~nulls)
    tbl = _Table(header=header, columns=columns, locate=lambda r: {"row": r + 1}, nrows=n)
    return _attribute_predictions(tbl, info, report, parsed=parsed)


# --------------------------------------------------------------------------------------------------
# ReID


def _read_reid_npz(data: bytes, info: BenchmarkInfo, report: ValidationReport) -> ReIDFeatures | None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = zf.infolist()
        unpacked = sum(m.file_size for m in members)
    if info.max_bytes and unpacked > 4 * info.max_bytes:
        report.add("size", f"the npz decompresses to {unpacked} bytes; at most {4 * info.max_bytes} allowed")
        return None
    keys = [m.filename[: -len(".npy")] for m in members]
    for key in NPZ_KEYS:
        if key not in keys:
            report.add("missing-column", f"key {key!r} is missing from the npz", column=key)
    extra = [k for k in keys if k not in NPZ_KEYS]
    if extra:
        report.warnings.append(f"npz keys ignored: {', '.join(extra)}")
    arrays: dict[str, np.ndarray] = {}
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        report.add("format", f"not a readable npz file ({exc})")
        return None
    with npz:
        for key in NPZ_KEYS:
            if key not in keys:
                continue
            try:
                arrays[key] = npz[key]
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    report.add("dtype", "holds Python objects (pickled); store names as a unicode string array "
                                        "(np.array(names, dtype=str)) and features as float32", column=key)
                else:
                    report.add("format", f"cannot read the array ({exc})", column=key)
            except (OSError, zipfile.BadZipFile) as exc:
                report.add("format", f"cannot read the array ({exc})", column=key)
    feats: dict[str, np.ndarray] = {}
    for key in ("query_features", "gallery_features"):
        arr = arrays.get(key)
        if arr is None:
            continue
        if arr.ndim != 2 or arr.shape[1] == 0:
            report.add("shape", f"expected a 2-D array (images, dimension), found shape {arr.shape}", column=key)
            continue
        if arr.dtype != np.float32:
            report.add("dtype", f"dtype is {arr.dtype}; expected float32 (use features.astype('float32'))", column=key)
            continue
        bad = ~np.isfinite(arr).all(axis=1)
        for r in np.flatnonzero(bad):
            code = "nan" if np.isnan(arr[r]).any() else "inf"
            report.add(code, f"feature vector holds {'NaN' if code == 'nan' else 'infinite'} values", row=int(r) + 1,
                       column=key)
        feats[key] = arr
    if len(feats) == 2 and feats["query_features"].shape[1] != feats["gallery_features"].shape[1]:
        report.add("shape", f"query features have dimension {feats['query_features'].shape[1]}, gallery features "
                            f"{feats['gallery_features'].shape[1]}; they must match", column="gallery_features")
    order: dict[str, np.ndarray] = {}
    for side in ("query", "gallery"):
        key = f"{side}_names"
        names = arrays.get(key)
        if names is None:
            continue
        if names.ndim != 1 or names.dtype.kind != "U":
            report.add("dtype", f"expected a 1-D unicode string array, found dtype {names.dtype} shape {names.shape}",
                       column=key)
            continue
        fkey = f"{side}_features"
        if fkey in feats and len(feats[fkey]) != len(names):
            report.add("shape", f"{len(names)} names for {len(feats[fkey])} feature rows in {fkey!r}", column=key)
        expected = info.query_names if side == "query" else info.gallery_names
        order[side] = _align_names(names.tolist(), expected, lambda r: {"row": r + 1}, report, column=key,
                                   what=f"{side} image", benchmark=info.name)
    report.rows = int(sum(len(a) for k, a in arrays.items() if k.endswith("_names")))
    if not report.ok:
        return None
    query = np.empty((len(info.query_names), feats["query_features"].shape[1]), dtype=np.float32)
    query[order["query"]] = feats["query_features"]
    gallery = np.empty((len(info.gallery_names), feats["gallery_features"].shape[1]), dtype=np.float32)
    gallery[order["gallery"]] = feats["gallery_features"]
    report.info["feature_dim"] = int(query.shape[1])
    return ReIDFeatures(query_features=query, gallery_features=gallery)


def ranking_columns(depth: int) -> list[str]:
    """Column names of the ReID ranking CSV: ``query``, ``rank1`` ... ``rank<depth>``."""
    return ["query", *(f"rank{k}" for k in range(1, depth + 1))]


def _read_reid_ranking(data: bytes, info: BenchmarkInfo, report: ValidationReport) -> ReIDRanking | None:
    table = _read_csv(data, report)
    if table is None:
        return None
    report.format = "ranking-csv"
    expected = ranking_columns(info.ranking_depth)
    _check_columns(table.header, expected, report)
    rows = (_align_names(table.columns["query"], info.query_names, table.locate, report, column="query",
                         what="query image", benchmark=info.name)
            if "query" in table.columns else np.full(table.nrows, -1, dtype=np.int64))
    gallery_index = {name: i for i, name in enumerate(info.gallery_names.tolist())}
    ranks = np.full((table.nrows, info.ranking_depth), -1, dtype=np.int64)
    for k, col in enumerate(expected[1:]):
        if col not in table.columns:
            continue
        number = table.header.index(col) + 1
        for r, name in enumerate(table.columns[col]):
            if name == "":
                report.add("missing-value", "empty gallery name", **table.locate(r), column=col, column_number=number)
            elif name not in gallery_index:
                report.add("unknown-image", f"unknown gallery image {name!r}: not in the gallery of benchmark "
                                            f"{info.name!r}", **table.locate(r), column=col, column_number=number)
            else:
                ranks[r, k] = gallery_index[name]
    for r in range(table.nrows):
        row = ranks[r][ranks[r] >= 0]
        uniq, counts = np.unique(row, return_counts=True)
        for g in uniq[counts > 1]:
            report.add("duplicate-gallery", f"gallery image {info.gallery_names[g]!r} is ranked more than once",
                       **table.locate(r))
    if not report.ok:
        return None
    ranking = np.empty((len(info.query_names), info.ranking_depth), dtype=np.int64)
    ranking[rows] = ranks
    return ReIDRanking(ranking=ranking)


_ATTRIBUTE_READERS: dict[str, Callable[[bytes, BenchmarkInfo, ValidationReport], Any]] = {
    "csv": _read_attributes_csv,
    "parquet": _read_attributes_parquet,
}
_REID_READERS: dict[str, Callable[[bytes, BenchmarkInfo, ValidationReport], Any]] = {
    "npz": _read_reid_npz,
    "csv": _read_reid_ranking,
}
