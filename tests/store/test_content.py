"""The content store on real files: archives named by their sha256, atomic copies, tampering caught."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ggen_desktop.store.content import (
    ContentError,
    ContentMismatch,
    ContentMissing,
    ContentStore,
    StoredArchive,
    digest_of,
)


def archive(path: Path, size: int, seed: int = 1) -> Path:
    """A file of `size` pseudo-random bytes (deterministic per seed)."""
    block = hashlib.sha256(f"seed {seed}".encode()).digest() * 2048
    path.write_bytes((block * (size // len(block) + 1))[:size])
    return path


def test_add_file_stores_the_bytes_under_their_sha256(tmp_path: Path) -> None:
    source = archive(tmp_path / "pkg.tar.gz", 3_000_001)
    store = ContentStore(tmp_path / "data")

    sha256, size, stored = store.add_file(source)

    assert sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert size == 3_000_001
    assert stored == tmp_path / "data" / "content" / sha256
    assert stored.read_bytes() == source.read_bytes()
    assert source.exists()
    assert store.path_for(sha256) == stored
    assert store.path_for("sha256:" + sha256) == stored
    assert store.has(sha256)
    assert store.held() == [StoredArchive(sha256, size, stored)]
    assert [p.name for p in (tmp_path / "data" / "content").iterdir()] == [sha256]  # no temp file left


def test_adding_the_same_archive_twice_keeps_one_copy(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "data")
    first = store.add_file(archive(tmp_path / "a", 10_000))
    second = store.add_file(archive(tmp_path / "b", 10_000))
    other = store.add_file(archive(tmp_path / "c", 10_000, seed=2))

    assert first == second
    assert sorted([first, other]) == store.held()


def test_an_empty_archive_is_an_archive(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "data")
    (tmp_path / "empty").write_bytes(b"")
    assert store.add_file(tmp_path / "empty").sha256 == hashlib.sha256(b"").hexdigest()


def test_missing_and_malformed_names_get_clear_errors(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "data")
    absent = "ab" * 32
    with pytest.raises(ContentMissing, match=f"no archive with sha256 {absent}"):
        store.path_for(absent)
    with pytest.raises(ContentError, match="not a sha256 content hash"):
        store.path_for("../../etc/passwd")
    with pytest.raises(ContentError, match="not a sha256 content hash"):
        digest_of("sha256:" + "AB" * 32)
    with pytest.raises(ContentError, match="no such file"):
        store.add_file(tmp_path / "nowhere")
    with pytest.raises(ContentError, match="it is a folder"):
        store.add_file(tmp_path)
    assert not store.has(absent)
    store.remove(absent)  # removing what is not held is fine


def test_verify_deletes_an_archive_whose_bytes_changed_on_disk(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "data")
    sha256, size, stored = store.add_file(archive(tmp_path / "a", 200_000))
    assert store.verify(sha256) == (sha256, size, stored)

    with stored.open("r+b") as handle:
        handle.seek(100_000)
        handle.write(b"X")
    with pytest.raises(ContentMismatch, match=f"expected sha256 {sha256}.*the file was deleted") as caught:
        store.verify(sha256)
    assert caught.value.expected == sha256
    assert not stored.exists()
    assert store.held() == []


def test_held_ignores_files_not_named_by_a_sha256(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "data")
    kept = store.add_file(archive(tmp_path / "a", 1_000))
    (store.root / "notes.txt").write_text("not an archive")
    (store.root / ("0" * 64)).mkdir()
    assert store.held() == [kept]


def test_adopt_moves_a_finished_download_in_only_when_its_hash_matches(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "data")
    good = archive(store.partial_dir / "download-1", 50_000)
    expected = hashlib.sha256(good.read_bytes()).hexdigest()

    adopted = store.adopt(good, "sha256:" + expected)

    assert adopted == StoredArchive(expected, 50_000, store.root / expected)
    assert not good.exists()

    bad = archive(store.partial_dir / "download-2", 50_000, seed=9)
    wanted = "cd" * 32
    with pytest.raises(ContentMismatch, match=f"download download-2: expected sha256 {wanted}"):
        store.adopt(bad, wanted)
    assert not bad.exists()
    assert not store.has(wanted)
    assert store.held() == [adopted]


COPIER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ggen_desktop.store.content import ContentStore
    ContentStore(Path(sys.argv[1])).add_file(Path(sys.argv[2]))
    """
)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe to stall the copy")
def test_a_copy_killed_midway_leaves_no_archive_and_its_temp_file_is_swept(tmp_path: Path) -> None:
    """The source is a pipe we feed by hand, so the copier is certainly mid-copy when it is killed."""
    data = tmp_path / "data"
    ContentStore(data)
    pipe = tmp_path / "source"
    os.mkfifo(pipe)
    copier = subprocess.Popen([sys.executable, "-c", COPIER, str(data), str(pipe)], cwd=Path(__file__).parents[2])
    try:
        with pipe.open("wb") as feed:
            feed.write(os.urandom(3_000_000))
            feed.flush()
            deadline = time.monotonic() + 30
            while sum(p.stat().st_size for p in (data / "content").iterdir()) < 2_000_000:
                assert copier.poll() is None and time.monotonic() < deadline, "the copier never got mid-copy"
                time.sleep(0.01)
            copier.send_signal(signal.SIGKILL)
            copier.wait(timeout=30)
    finally:
        if copier.poll() is None:
            copier.kill()
            copier.wait(timeout=30)

    leftovers = list((data / "content").iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".incoming-")
    store = ContentStore(data)
    assert store.held() == []
    assert list(store.root.iterdir()) == []
