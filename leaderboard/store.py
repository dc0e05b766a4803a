"""The leaderboard database: users, hashed tokens, benchmarks, submissions (by file hash) and score versions.

The embedded default is SQLite (``sqlite:///<root>/leaderboard.sqlite3``) in WAL mode with a busy timeout,
foreign keys on and ``synchronous=FULL``; every read-then-write (the daily quota check and the insert of a
submission with its first score) runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent submitters
can neither overrun a quota nor lose a row. A submission and its first score are inserted together: a
crash leaves either both or neither. Re-scoring adds a score version and marks it current; older versions
stay as history.

The database is chosen by URL. SQL here is plain (no SQLite-only syntax besides the PRAGMAs of the
SQLite backend), so a PostgreSQL backend is one more entry in :data:`BACKENDS`; only ``sqlite`` ships.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from leaderboard.benchmark import format_time, utcnow
from pa100k.registry import Registry

SCHEMA_VERSION = 1
DEFAULT_DAILY_QUOTA = 5
TOKEN_PREFIX = "lbt_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    daily_quota INTEGER NOT NULL CHECK (daily_quota >= 0),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS benchmarks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    task TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_id INTEGER REFERENCES tokens(id),
    method TEXT NOT NULL,
    paper_url TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    file_sha256 TEXT NOT NULL REFERENCES files(sha256),
    file_name TEXT NOT NULL,
    format TEXT NOT NULL,
    report TEXT NOT NULL,
    quota_day TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_by_token_day ON submissions(token_id, quota_day);
CREATE INDEX IF NOT EXISTS submissions_by_benchmark ON submissions(benchmark_id);
CREATE TABLE IF NOT EXISTS scores (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    version INTEGER NOT NULL,
    scorer TEXT NOT NULL,
    is_current INTEGER NOT NULL CHECK (is_current IN (0, 1)),
    public TEXT NOT NULL,
    private TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (submission_id, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS scores_one_current ON scores(submission_id) WHERE is_current = 1;
"""


class QuotaExceeded(Exception):
    """The token has used its daily quota of submissions."""

    def __init__(self, used: int, limit: int, day: str) -> None:
        super().__init__(f"daily quota reached: {used} of {limit} submissions on {day} (UTC); try again tomorrow")
        self.used, self.limit, self.day = used, limit, day


class AuthenticationError(Exception):
    """An unknown or revoked token."""


def hash_token(token: str) -> str:
    """The stored form of a token: its sha256 (tokens are 256-bit random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenOwner:
    """Who a token belongs to and its daily quota."""

    token_id: int
    user_id: int
    user: str
    daily_quota: int


@dataclass(frozen=True)
class ScoreRecord:
    """One score version of a submission: JSON-able results for the public and the private part."""

    public: dict[str, Any]
    private: dict[str, Any]
    scorer: str
    version: int = 1
    reason: str = ""
    created_at: str = ""
    is_current: bool = True


@dataclass(frozen=True)
class SubmissionRecord:
    """A stored submission with its current score."""

    id: int
    benchmark: str
    user: str
    method: str
    paper_url: str
    description: str
    file_sha256: str
    file_name: str
    format: str
    report: dict[str, Any]
    created_at: str
    score: ScoreRecord


# --------------------------------------------------------------------------------------------------
# backends

Connector = Callable[[str], Callable[[], Any]]
BACKENDS: Registry[Connector] = Registry("database backend")


@BACKENDS.register("sqlite")
def _sqlite_backend(url: str) -> Callable[[], sqlite3.Connection]:
    """``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3``."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"database URL {url!r}: expected sqlite:///relative/path or sqlite:////absolute/path")
    path = unquote(url[len("sqlite:///"):])
    if not path:
        raise ValueError(f"database URL {url!r} names no file; expected sqlite:///path/to/leaderboard.sqlite3")
    db_path = Path(path)
    db_path.parent.mkdir(parents=True, exist_ok=True)

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    conn = connect()
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ValueError(f"{db_path}: could not switch SQLite to WAL mode (got {mode!r}); is it on a network share?")
    finally:
        conn.close()
    return connect


def sqlite_url(path: str | Path) -> str:
    """The database URL of an SQLite file."""
    return f"sqlite:///{Path(path).resolve()}"


class Store:
    """The leaderboard's database, opened by URL (``sqlite:///...``); one short connection per operation."""

    def __init__(self, url: str) -> None:
        scheme = urlparse(url).scheme.split("+")[0]
        self.url = url
        self._connect = BACKENDS.get(scheme)(url)
        with self.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row["value"]) > SCHEMA_VERSION:
                raise ValueError(f"{url}: database schema version {row['value']} is newer than this code's "
                                 f"({SCHEMA_VERSION}); upgrade the leaderboard package")

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection for reads (autocommit), closed afterwards."""
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any error): the write lock is taken up front."""
        with self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ---------------------------------------------------------------- users and tokens

    def add_user(self, name: str, daily_quota: int = DEFAULT_DAILY_QUOTA) -> str:
        """Create user ``name`` with a new token and return the token (only its hash is stored)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError(f"user name must be 1-100 characters, found {name!r}")
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise ValueError(f"user {name!r} already exists; use add-token for another token")
            conn.execute("INSERT INTO users (name, created_at) VALUES (?, ?)", (name, format_time(utcnow())))
        return self.add_token(name, daily_quota)

    def add_token(self, user: str, daily_quota: int = DEFAULT_DAILY_QUOTA) -> str:
        """A new token for an existing user; returns the token itself, which is not stored."""
        if daily_quota < 0:
            raise ValueError(f"daily_quota must be >= 0, found {daily_quota}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM users WHERE name = ?", (user,)).fetchone()
            if row is None:
                raise KeyError(f"unknown user {user!r}")
            conn.execute(
                "INSERT INTO tokens (user_id, token_hash, daily_quota, created_at) VALUES (?, ?, ?, ?)",
                (row["id"], hash_token(token), daily_quota, format_time(utcnow())),
            )
        return token

    def revoke_token(self, token: str) -> None:
        """Revoke a token; later submissions with it are refused."""
        with self.transaction() as conn:
            cur = conn.execute("UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                               (format_time(utcnow()), hash_token(token)))
            if cur.rowcount == 0:
                raise AuthenticationError("unknown or already revoked token")

    def authenticate(self, token: str) -> TokenOwner:
        """The owner of ``token``; raises :class:`AuthenticationError` for an unknown or revoked token."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise AuthenticationError("missing or malformed token")
        with self.connection() as conn:
            row = conn.execute(
                "SELECT t.id AS token_id, t.user_id, u.name AS user, t.daily_quota, t.revoked_at "
                "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
                (hash_token(token),),
            ).fetchone()
        if row is None or row["revoked_at"] is not None:
            raise AuthenticationError("unknown or revoked token")
        return TokenOwner(row["token_id"], row["user_id"], row["user"], row["daily_quota"])

    def quota_used(self, token_id: int, day: str) -> int:
        """Submissions made with token ``token_id`` on UTC day ``day`` (YYYY-MM-DD)."""
        with self.connection() as conn:
            return conn.execute("SELECT COUNT(*) FROM submissions WHERE token_id = ? AND quota_day = ?",
                                (token_id, day)).fetchone()[0]

    # ---------------------------------------------------------------- benchmarks

    def ensure_benchmark(self, name: str, task: str) -> None:
        """Register a benchmark name (its files live in the data folder); idempotent."""
        with self.transaction() as conn:
            row = conn.execute("SELECT task FROM benchmarks WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO benchmarks (name, task, created_at) VALUES (?, ?, ?)",
                             (name, task, format_time(utcnow())))
            elif row["task"] != task:
                raise ValueError(f"benchmark {name!r} is registered with task {row['task']!r}, not {task!r}")

    def benchmark_names(self) -> list[str]:
        """Registered benchmark names, sorted."""
        with self.connection() as conn:
            return [r["name"] for r in conn.execute("SELECT name FROM benchmarks ORDER BY name")]

    # ---------------------------------------------------------------- submissions

    def insert_submission(
        self,
        *,
        benchmark: str,
        owner: TokenOwner,
        method: str,
        paper_url: str,
        description: str,
        file_sha256: str,
        file_size: int,
        file_name: str,
        format: str,
        report: dict[str, Any],
        score: ScoreRecord,
        now: datetime | None = None,
    ) -> int:
        """Check the token's daily quota and insert the submission with its first score, atomically.

        Raises :class:`QuotaExceeded` (nothing is written) when the quota of the current UTC day is used.
        """
        now = now or utcnow()
        day = now.date().isoformat()
        stamp = format_time(now)
        with self.transaction() as conn:
            used = conn.execute("SELECT COUNT(*) FROM submissions WHERE token_id = ? AND quota_day = ?",
                                (owner.token_id, day)).fetchone()[0]
            if used >= owner.daily_quota:
                raise QuotaExceeded(used, owner.daily_quota, day)
            bench = conn.execute("SELECT id FROM benchmarks WHERE name = ?", (benchmark,)).fetchone()
            if bench is None:
                raise KeyError(f"unknown benchmark {benchmark!r}; valid: {', '.join(self._names(conn)) or '(none)'}")
            conn.execute("INSERT INTO files (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                         (file_sha256, file_size, stamp))
            cur = conn.execute(
                "INSERT INTO submissions (benchmark_id, user_id, token_id, method, paper_url, description, "
                "file_sha256, file_name, format, report, quota_day, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (bench["id"], owner.user_id, owner.token_id, method, paper_url, description, file_sha256, file_name,
                 format, json.dumps(report), day, stamp),
            )
            sid = int(cur.lastrowid)
            self._insert_score(conn, sid, score, 1, stamp)
        return sid

    @staticmethod
    def _names(conn: sqlite3.Connection) -> list[str]:
        return [r["name"] for r in conn.execute("SELECT name FROM benchmarks ORDER BY name")]

    @staticmethod
    def _insert_score(conn: sqlite3.Connection, submission_id: int, score: ScoreRecord, version: int, stamp: str) -> None:
        conn.execute("UPDATE scores SET is_current = 0 WHERE submission_id = ? AND is_current = 1", (submission_id,))
        conn.execute(
            "INSERT INTO scores (submission_id, version, scorer, is_current, public, private, reason, created_at) "
            "VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
            (submission_id, version, score.scorer, json.dumps(score.public), json.dumps(score.private), score.reason,
             stamp),
        )

    def add_score_version(self, submission_id: int, score: ScoreRecord) -> int:
        """Store a new score version for a submission and make it current; returns its version number."""
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM submissions WHERE id = ?", (submission_id,)).fetchone() is None:
                raise KeyError(f"unknown submission {submission_id}")
            version = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM scores WHERE submission_id = ?",
                                   (submission_id,)).fetchone()[0]
            self._insert_score(conn, submission_id, score, version, format_time(utcnow()))
        return int(version)

    _SELECT = (
        "SELECT s.id, b.name AS benchmark, u.name AS user, s.method, s.paper_url, s.description, s.file_sha256, "
        "s.file_name, s.format, s.report, s.created_at, c.version, c.scorer, c.public, c.private, c.reason, "
        "c.created_at AS scored_at "
        "FROM submissions s JOIN benchmarks b ON b.id = s.benchmark_id JOIN users u ON u.id = s.user_id "
        "JOIN scores c ON c.submission_id = s.id AND c.is_current = 1"
    )

    @staticmethod
    def _record(row: sqlite3.Row) -> SubmissionRecord:
        score = ScoreRecord(public=json.loads(row["public"]), private=json.loads(row["private"]), scorer=row["scorer"],
                            version=row["version"], reason=row["reason"], created_at=row["scored_at"])
        return SubmissionRecord(
            id=row["id"], benchmark=row["benchmark"], user=row["user"], method=row["method"],
            paper_url=row["paper_url"], description=row["description"], file_sha256=row["file_sha256"],
            file_name=row["file_name"], format=row["format"], report=json.loads(row["report"]),
            created_at=row["created_at"], score=score,
        )

    def submissions(self, benchmark: str | None = None) -> list[SubmissionRecord]:
        """Stored submissions with their current score, oldest first (optionally of one benchmark)."""
        sql, args = self._SELECT, ()
        if benchmark is not None:
            sql, args = sql + " WHERE b.name = ?", (benchmark,)
        with self.connection() as conn:
            return [self._record(r) for r in conn.execute(sql + " ORDER BY s.id", args)]

    def submission(self, submission_id: int) -> SubmissionRecord:
        """One submission with its current score; KeyError when there is none with that id."""
        with self.connection() as conn:
            row = conn.execute(self._SELECT + " WHERE s.id = ?", (int(submission_id),)).fetchone()
        if row is None:
            raise KeyError(f"unknown submission {submission_id}")
        return self._record(row)

    def score_history(self, submission_id: int) -> list[ScoreRecord]:
        """Every score version of a submission, oldest first."""
        with self.connection() as conn:
            rows = conn.execute("SELECT * FROM scores WHERE submission_id = ? ORDER BY version", (submission_id,)).fetchall()
        return [ScoreRecord(public=json.loads(r["public"]), private=json.loads(r["private"]), scorer=r["scorer"],
                            version=r["version"], reason=r["reason"], created_at=r["created_at"],
                            is_current=bool(r["is_current"])) for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (for reports and consistency checks)."""
        with self.connection() as conn:
            return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                    for t in ("users", "tokens", "benchmarks", "files", "submissions", "scores")}

    def integrity_problems(self) -> list[str]:
        """Database-level problems: SQLite's integrity and foreign-key checks, submissions without a current score."""
        out: list[str] = []
        with self.connection() as conn:
            res = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if res != ["ok"]:
                out += [f"integrity_check: {r}" for r in res]
            out += [f"foreign key violation in {r[0]} row {r[1]}" for r in conn.execute("PRAGMA foreign_key_check")]
            for r in conn.execute("SELECT s.id FROM submissions s LEFT JOIN scores c ON c.submission_id = s.id "
                                  "AND c.is_current = 1 WHERE c.id IS NULL"):
                out.append(f"submission {r[0]} has no current score")
        return out

    def file_hashes(self) -> list[str]:
        """Hashes of every file referenced by a submission."""
        with self.connection() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT file_sha256 FROM submissions")]
