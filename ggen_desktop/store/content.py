"""The content store: package archives held in the data folder, each named by its sha256.

A record's `content_hash` ("sha256:<hex>") names its archive, so the file name is
the check: `content/<hex>` holds exactly the bytes whose sha256 is `<hex>`. Files
enter only through a temp file that is hashed while written, fsynced, then renamed,
so a crash leaves either the whole archive or nothing under its name. Downloads in
progress live in `partial/` and move in through `adopt`, which checks the hash first.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ggen_desktop.store.errors import StoreError

CONTENT_DIRNAME = "content"
PARTIAL_DIRNAME = "partial"
_HEX = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
_TEMP_PREFIX = ".incoming-"


class ContentError(StoreError):
    """An archive could not be stored or read; the message says which and why."""


class ContentMissing(ContentError):
    """The store holds no archive with this sha256."""


class ContentMismatch(ContentError):
    """A file's bytes do not hash to the sha256 it should have; the file was deleted."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"{what}: expected sha256 {expected}, the bytes hash to {actual}; the file was deleted")
        self.expected = expected
        self.actual = actual


class StoredArchive(NamedTuple):
    """One archive in the store: unpacks as `(sha256, size, path)`."""

    sha256: str
    size: int
    path: Path


def digest_of(content_hash: str) -> str:
    """The hex digest of a record's content hash: "sha256:<hex>" or bare "<hex>" (lowercase)."""
    digest = content_hash.removeprefix("sha256:")
    if not _HEX.match(digest):
        raise ContentError(f"{content_hash!r} is not a sha256 content hash (64 lowercase hex digits)")
    return digest


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 hex digest and size of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened, as on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ContentStore:
    """Archives under `<data>/content/`, downloads in progress under `<data>/partial/`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / CONTENT_DIRNAME
        self.partial_dir = Path(data_dir) / PARTIAL_DIRNAME
        self.root.mkdir(parents=True, exist_ok=True)
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self._sweep_temp_files()

    def add_file(self, source: Path) -> StoredArchive:
        """Copy `source` into the store under its sha256 (hashed while copying); the source is left as it is."""
        try:
            with Path(source).open("rb") as reader:
                return self._add_stream(reader)
        except FileNotFoundError as exc:
            raise ContentError(f"cannot add {source}: no such file") from exc
        except IsADirectoryError as exc:
            raise ContentError(f"cannot add {source}: it is a folder, not an archive") from exc

    def adopt(self, partial: Path, expected_sha256: str) -> StoredArchive:
        """Move a finished download from `partial/` into the store once its bytes hash to `expected_sha256`.

        A mismatch deletes the file and raises ContentMismatch: a wrong archive must never be kept.
        """
        expected = digest_of(expected_sha256)
        actual, size = hash_file(partial)
        if actual != expected:
            partial.unlink(missing_ok=True)
            raise ContentMismatch(f"download {partial.name}", expected, actual)
        with partial.open("r+b") as handle:
            os.fsync(handle.fileno())
        final = self._final_path(expected)
        os.replace(partial, final)
        _fsync_dir(self.root)
        return StoredArchive(expected, size, final)

    def has(self, sha256: str) -> bool:
        return self._final_path(digest_of(sha256)).is_file()

    def path_for(self, sha256: str) -> Path:
        """Where the archive with this sha256 is; ContentMissing when the store does not hold it."""
        path = self._final_path(digest_of(sha256))
        if not path.is_file():
            raise ContentMissing(f"no archive with sha256 {digest_of(sha256)} in {self.root}")
        return path

    def verify(self, sha256: str) -> StoredArchive:
        """Re-hash a held archive; one whose bytes changed on disk is deleted (ContentMismatch)."""
        path = self.path_for(sha256)
        actual, size = hash_file(path)
        if actual != path.name:
            path.unlink(missing_ok=True)
            raise ContentMismatch(f"stored archive {path}", path.name, actual)
        return StoredArchive(actual, size, path)

    def held(self) -> list[StoredArchive]:
        """Every archive held, sorted by sha256 (sizes from the file system; `verify` re-hashes)."""
        return sorted(self._scan())

    def remove(self, sha256: str) -> None:
        """Delete an archive; removing one that is not held is not an error."""
        self._final_path(digest_of(sha256)).unlink(missing_ok=True)

    def _scan(self) -> Iterator[StoredArchive]:
        for entry in os.scandir(self.root):
            if _HEX.match(entry.name) and entry.is_file():
                yield StoredArchive(entry.name, entry.stat().st_size, Path(entry.path))

    def _final_path(self, digest: str) -> Path:
        return self.root / digest

    def _add_stream(self, reader: BinaryIO) -> StoredArchive:
        digest = hashlib.sha256()
        size = 0
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.root)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as writer:
                while chunk := reader.read(_CHUNK):
                    digest.update(chunk)
                    writer.write(chunk)
                    size += len(chunk)
                writer.flush()
                os.fsync(writer.fileno())
            final = self._final_path(digest.hexdigest())
            os.replace(temp, final)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise ContentError(f"cannot store the archive in {self.root}: {exc.strerror or exc}") from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)
        return StoredArchive(digest.hexdigest(), size, final)

    def _sweep_temp_files(self) -> None:
        """Temp files left by a copy that crashed hold no archive anyone can name: delete them."""
        for leftover in self.root.glob(_TEMP_PREFIX + "*"):
            leftover.unlink(missing_ok=True)
