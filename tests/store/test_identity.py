"""The publisher key in the (in-memory) keyring and in owner-only key files."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import chainer, fail, null

from ggen_desktop.core.record import decode_and_verify, fingerprint
from ggen_desktop.store.identity import (
    KEYRING_SERVICE,
    KEYRING_USERNAME,
    IdentityError,
    PublisherIdentity,
    create_key_file,
    create_keyring_identity,
    delete_key_file,
    delete_keyring_identity,
    load_key_file,
    load_keyring_identity,
    open_key_file,
)
from tests.helpers.memory_keyring import MemoryKeyring
from tests.helpers.packages import make_package

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


def test_create_then_load_from_keyring(memory_keyring: MemoryKeyring) -> None:
    assert load_keyring_identity() is None
    created = create_keyring_identity()
    stored = memory_keyring.passwords[(KEYRING_SERVICE, KEYRING_USERNAME)]
    assert len(base64.b64decode(stored)) == 32
    loaded = load_keyring_identity()
    assert loaded is not None
    assert loaded.public_key_bytes == created.public_key_bytes
    assert loaded.fingerprint == created.fingerprint == fingerprint(created.public_key_bytes)


def test_create_refuses_to_replace_an_existing_key(memory_keyring: MemoryKeyring) -> None:
    first = create_keyring_identity()
    with pytest.raises(IdentityError, match="already holds a publisher key"):
        create_keyring_identity()
    loaded = load_keyring_identity()
    assert loaded is not None and loaded.fingerprint == first.fingerprint


@pytest.mark.parametrize(
    ("value", "rule"), [("not base64!", "not base64"), (base64.b64encode(b"short").decode(), "decodes to 5 bytes")]
)
def test_damaged_keyring_entry(memory_keyring: MemoryKeyring, value: str, rule: str) -> None:
    memory_keyring.passwords[(KEYRING_SERVICE, KEYRING_USERNAME)] = value
    with pytest.raises(IdentityError, match=rule):
        load_keyring_identity()


def _assert_unavailable(error: IdentityError) -> None:
    message = str(error)
    assert "keyring is unavailable" in message
    assert "--key-file PATH" in message


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_no_usable_keyring_names_the_key_file_alternative(backend: keyring.backend.KeyringBackend) -> None:
    keyring.set_keyring(backend)
    for action in (create_keyring_identity, load_keyring_identity):
        with pytest.raises(IdentityError) as info:
            action()
        _assert_unavailable(info.value)


def test_chainer_with_no_backends_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())
    with pytest.raises(IdentityError) as info:
        create_keyring_identity()
    _assert_unavailable(info.value)


class _BrokenKeyring(MemoryKeyring):
    """A backend whose daemon went away: every call raises keyring's own error."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("the collection is locked")


class _ForgetfulKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        pass


@pytest.mark.parametrize("backend", [_BrokenKeyring(), _ForgetfulKeyring()])
def test_backend_failures_become_identity_errors(backend: MemoryKeyring) -> None:
    keyring.set_keyring(backend)
    with pytest.raises(IdentityError) as info:
        create_keyring_identity()
    _assert_unavailable(info.value)


def test_identity_signs_verifiable_records_and_hides_its_key() -> None:
    identity = PublisherIdentity.generate()
    record = identity.sign_package(make_package())
    assert decode_and_verify(record.encoded).fingerprint == identity.fingerprint
    assert identity.encoded() not in repr(identity)
    assert identity.fingerprint in repr(identity)


# -- key files ----------------------------------------------------------------


def test_key_file_create_and_load(tmp_path: Path) -> None:
    path = tmp_path / "publisher.key"
    created = create_key_file(path)
    if sys.platform != "win32":
        assert path.stat().st_mode & 0o777 == 0o600
    assert load_key_file(path).fingerprint == created.fingerprint


def test_key_file_is_owner_only_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        create_key_file(tmp_path / "k")
    finally:
        os.umask(old)
    if sys.platform != "win32":
        assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600


def test_key_file_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "publisher.key"
    path.write_text("precious")
    with pytest.raises(IdentityError, match="refusing to overwrite"):
        create_key_file(path)
    assert path.read_text() == "precious"


def test_key_file_in_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="cannot create the key file"):
        create_key_file(tmp_path / "nope" / "k")


@posix_only
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o602])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "publisher.key"
    create_key_file(path)
    path.chmod(mode)
    with pytest.raises(IdentityError, match=f"other users \\(mode 0{mode:o}\\).*chmod 600"):
        load_key_file(path)


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"", "decodes to 0 bytes"),
        (b"hello world", "not base64"),
        (base64.b64encode(b"k" * 31), "decodes to 31 bytes"),
        (b"\xff\xfe", "not text"),
        (b"x" * 5000, "far too large"),
    ],
)
def test_malformed_key_file(tmp_path: Path, content: bytes, rule: str) -> None:
    path = tmp_path / "publisher.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(IdentityError, match=rule):
        load_key_file(path)


def test_missing_key_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="there is no key file"):
        load_key_file(tmp_path / "absent.key")
    with pytest.raises(IdentityError, match="not a regular file"):
        load_key_file(tmp_path)


def test_open_key_file_creates_once_then_loads_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "publisher.key"
    first, created = open_key_file(path)
    assert created and path.exists()
    again, created_again = open_key_file(path)
    assert not created_again and again.fingerprint == first.fingerprint


def test_deleting_the_keyring_key(memory_keyring: MemoryKeyring) -> None:
    assert delete_keyring_identity() is False  # nothing to delete
    create_keyring_identity()
    assert delete_keyring_identity() is True
    assert load_keyring_identity() is None and not memory_keyring.passwords


def test_deleting_a_key_file_refuses_a_file_that_is_not_one(tmp_path: Path) -> None:
    key = tmp_path / "publisher.key"
    created = create_key_file(key)
    assert delete_key_file(key).fingerprint == created.fingerprint and not key.exists()
    other = tmp_path / "notes.txt"
    other.write_text("my notes")
    other.chmod(0o600)
    with pytest.raises(IdentityError, match="does not hold a publisher key"):
        delete_key_file(other)
    assert other.read_text() == "my notes"
