"""Submission files, content-addressed by sha256: staged in ``tmp/``, fsynced, then renamed into place.

Layout under the leaderboard data folder::

    submissions/<first two hex digits>/<sha256>   one file per distinct content, never rewritten
    tmp/upload-<random>.part                       uploads being received (removed when stale)

A client's file name never becomes a path: the staged name is random and the final name is the hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

CHUNK = 1 << 16


class UploadTooLarge(ValueError):
    """An upload went over its size cap (raised while streaming, before the rest is read)."""

    def __init__(self, limit: int, received: int) -> None:
        super().__init__(f"the upload exceeds the size cap of {limit} bytes (received {received} bytes so far)")
        self.limit = limit
        self.received = received


def fsync_dir(path: Path) -> None:
    """fsync a directory so that a rename inside it survives a crash (no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class StagedFile:
    """A file being received into ``tmp/``: bytes are hashed and counted as they are written."""

    path: Path
    max_bytes: int
    size: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256)
    _fh: BinaryIO | None = None
    sha256: str = ""

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; raises :class:`UploadTooLarge` as soon as the cap is passed."""
        if self._fh is None:
            raise ValueError(f"{self.path}: staged file is already closed")
        self.size += len(chunk)
        if self.max_bytes and self.size > self.max_bytes:
            raise UploadTooLarge(self.max_bytes, self.size)
        self._hash.update(chunk)
        self._fh.write(chunk)

    def finish(self) -> StagedFile:
        """Flush and fsync the data; after this the content and its hash are final."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
            self.sha256 = self._hash.hexdigest()
        return self

    def discard(self) -> None:
        """Close and delete the staged file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class BlobStore:
    """Content-addressed submission files under ``root``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.files_dir = self.root / "submissions"
        self.tmp_dir = self.root / "tmp"

    def stage(self, max_bytes: int = 0) -> StagedFile:
        """A new empty staged file in ``tmp/`` with a random name."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.tmp_dir)
        return StagedFile(path=Path(name), max_bytes=max_bytes, _fh=os.fdopen(fd, "wb"))

    def stage_chunks(self, chunks: Iterable[bytes], max_bytes: int = 0) -> StagedFile:
        """Stage an iterable of byte chunks (stops reading at the cap); the result is finished (fsynced)."""
        staged = self.stage(max_bytes)
        try:
            for chunk in chunks:
                staged.write(chunk)
            return staged.finish()
        except BaseException:
            staged.discard()
            raise

    def stage_file(self, source: str | os.PathLike, max_bytes: int = 0) -> StagedFile:
        """Stage a copy of a local file (the CLI's ``submit``)."""
        source = Path(source)
        if not source.is_file():
            raise FileNotFoundError(f"submission file {source} not found")
        with open(source, "rb") as fh:
            return self.stage_chunks(iter(lambda: fh.read(CHUNK), b""), max_bytes)

    def path(self, sha256: str) -> Path:
        """Where the file with hash ``sha256`` lives."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"sha256 must be 64 lower-case hex digits, found {sha256!r}")
        return self.files_dir / sha256[:2] / sha256

    def commit(self, staged: StagedFile) -> Path:
        """Move a finished staged file to its content address (fsynced); identical content is kept once."""
        if not staged.sha256:
            raise ValueError(f"{staged.path}: finish() the staged file before committing it")
        target = self.path(staged.sha256)
        if target.is_file() and target.stat().st_size == staged.size:
            staged.discard()
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, target)
        fsync_dir(target.parent)
        return target

    def read(self, sha256: str) -> bytes:
        """The bytes of a stored file, checked against its hash."""
        path = self.path(sha256)
        if not path.is_file():
            raise FileNotFoundError(f"submission file {path} is missing from the store")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"{path}: content does not match its sha256 (the file was altered)")
        return data

    def remove_stale(self, older_than_s: float = 3600.0) -> int:
        """Delete staged files older than ``older_than_s`` seconds (leftovers of crashed uploads)."""
        if not self.tmp_dir.is_dir():
            return 0
        now = time.time()
        removed = 0
        for p in self.tmp_dir.iterdir():
            if p.is_file() and p.name.startswith("upload-") and now - p.stat().st_mtime >= older_than_s:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed += 1
        if removed:
            log.info("removed %d stale staged uploads from %s", removed, self.tmp_dir)
        return removed
