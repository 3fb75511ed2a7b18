"""The publisher key: an Ed25519 key kept in the OS keyring, or in a key file the user chose.

The private key is only ever written where the user asked: the OS keyring
(service `ggen-desktop`, user `publisher-key`), or an explicit `--key-file`
created owner-only. With no usable keyring we refuse and name that
alternative rather than fall back to a plain file on our own.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import keyring
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringError

from ggen_desktop.core.package import Package
from ggen_desktop.core.record import SignedRecord, fingerprint, public_key_bytes, sign

log = logging.getLogger(__name__)

KEYRING_SERVICE = "ggen-desktop"
KEYRING_USERNAME = "publisher-key"
PRIVATE_KEY_BYTES = 32
# A key file holds one base64 line (44 characters); anything much larger is not one.
_MAX_KEY_FILE_BYTES = 1024


class IdentityError(Exception):
    """The publisher key cannot be created, read or used; the message says why and what to do."""


def _keyring_unavailable(detail: str) -> IdentityError:
    return IdentityError(
        f"the OS keyring is unavailable ({detail}), so the publisher key cannot be kept there. "
        "Set up a keyring service (Secret Service such as GNOME Keyring or KWallet, macOS Keychain, "
        "Windows Credential Manager), or keep the key in a file you choose with --key-file PATH "
        "(created readable by you only; back it up and keep it private)"
    )


class PublisherIdentity:
    """A publisher's private key and what it signs. `repr` never shows the key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key_bytes: bytes = public_key_bytes(private_key)
        self.fingerprint: str = fingerprint(self.public_key_bytes)

    @classmethod
    def generate(cls) -> PublisherIdentity:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_encoded(cls, text: str, source: str) -> PublisherIdentity:
        """Parse the stored form (base64 of the raw 32-byte key); `source` names where it came from."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise IdentityError(f"{source} does not hold a publisher key: it is not base64 text") from None
        if len(raw) != PRIVATE_KEY_BYTES:
            raise IdentityError(
                f"{source} does not hold a publisher key: it decodes to {len(raw)} bytes, "
                f"expected {PRIVATE_KEY_BYTES}"
            )
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def encoded(self) -> str:
        """The stored form of the private key; only for writing to the keyring or a chosen key file."""
        raw = self._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return base64.b64encode(raw).decode("ascii")

    def sign_package(self, package: Package) -> SignedRecord:
        """Sign a package as this publisher; raises RecordTooLarge if it would not fit the wire."""
        return sign(package, self._private_key)

    def __repr__(self) -> str:
        return f"PublisherIdentity(fingerprint={self.fingerprint!r})"


# -- OS keyring ---------------------------------------------------------------


def _usable_backend() -> KeyringBackend:
    """The active keyring backend, or IdentityError if it is one that cannot keep a secret."""
    try:
        backend = keyring.get_keyring()
    except (KeyringError, RuntimeError) as exc:
        raise _keyring_unavailable(str(exc)) from exc
    if isinstance(backend, fail.Keyring):
        raise _keyring_unavailable("no keyring backend is installed or running")
    if isinstance(backend, null.Keyring):
        raise _keyring_unavailable("the keyring is configured as the null backend, which stores nothing")
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        raise _keyring_unavailable("no keyring backend is installed or running")
    return backend


def _keyring_call(action: str, call: Callable[..., str | None], *args: str) -> str | None:
    """Run one keyring operation, turning backend failures (locked, daemon gone) into IdentityError."""
    try:
        return call(*args)
    except (KeyringError, RuntimeError, OSError) as exc:
        raise _keyring_unavailable(f"{action} failed: {exc}") from exc


def load_keyring_identity() -> PublisherIdentity | None:
    """The publisher key from the OS keyring, or None if none was created yet."""
    backend = _usable_backend()
    text = _keyring_call("reading the key", backend.get_password, KEYRING_SERVICE, KEYRING_USERNAME)
    if text is None:
        return None
    return PublisherIdentity.from_encoded(text, f"the keyring entry {KEYRING_SERVICE}/{KEYRING_USERNAME}")


def create_keyring_identity() -> PublisherIdentity:
    """Generate a publisher key and keep it in the OS keyring; refuses to replace an existing one."""
    backend = _usable_backend()
    if _keyring_call("reading the key", backend.get_password, KEYRING_SERVICE, KEYRING_USERNAME) is not None:
        raise IdentityError(
            f"the keyring already holds a publisher key ({KEYRING_SERVICE}/{KEYRING_USERNAME}); "
            "remove that entry with your keyring manager first if you really mean to replace it "
            "(its packages can then no longer be updated)"
        )
    identity = PublisherIdentity.generate()
    _keyring_call("storing the key", backend.set_password, KEYRING_SERVICE, KEYRING_USERNAME, identity.encoded())
    stored = _keyring_call("reading the key back", backend.get_password, KEYRING_SERVICE, KEYRING_USERNAME)
    if stored != identity.encoded():
        raise _keyring_unavailable("the keyring accepted the key but did not keep it")
    log.info("created publisher key %s in the OS keyring", identity.fingerprint)
    return identity


def delete_keyring_identity() -> bool:
    """Remove the publisher key from the OS keyring; False when there was none. Irreversible: the caller
    asks first (packages signed with it can no longer be updated by anyone)."""
    backend = _usable_backend()
    if _keyring_call("reading the key", backend.get_password, KEYRING_SERVICE, KEYRING_USERNAME) is None:
        return False
    _keyring_call("deleting the key", backend.delete_password, KEYRING_SERVICE, KEYRING_USERNAME)
    log.info("deleted the publisher key from the OS keyring")
    return True


# -- key file -----------------------------------------------------------------


def create_key_file(path: str | os.PathLike[str]) -> PublisherIdentity:
    """Generate a publisher key into a new file readable by its owner only (mode 0600).

    Refuses to overwrite anything. On Windows the mode bits are not enforced:
    the file inherits the folder's access list, so choose a private folder.
    """
    path = Path(path)
    identity = PublisherIdentity.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:
        raise IdentityError(f"{path} already exists; refusing to overwrite it with a new key") from None
    except OSError as exc:
        raise IdentityError(f"cannot create the key file {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(identity.encoded().encode("ascii") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise IdentityError(f"cannot write the key file {path}: {exc.strerror or exc}") from exc
    log.info("created publisher key %s in %s (readable by its owner only)", identity.fingerprint, path)
    return identity


def load_key_file(path: str | os.PathLike[str]) -> PublisherIdentity:
    """Read a publisher key file; refuses one that group or others can access (POSIX)."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise IdentityError(f"there is no key file at {path}; create one with --key-file {path} on publish") from None
    except OSError as exc:
        raise IdentityError(f"cannot read the key file {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise IdentityError(f"{path} is not a regular file, so it cannot be a key file")
    if sys.platform != "win32" and info.st_mode & 0o077:
        raise IdentityError(
            f"the key file {path} can be accessed by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"make it private with: chmod 600 {path}"
        )
    if info.st_size > _MAX_KEY_FILE_BYTES:
        raise IdentityError(f"{path} does not hold a publisher key: it is {info.st_size} bytes, far too large")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"cannot read the key file {path}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise IdentityError(f"the key file {path} does not hold a publisher key: it is not text") from None
    return PublisherIdentity.from_encoded(text, f"the key file {path}")


def open_key_file(path: str | os.PathLike[str]) -> tuple[PublisherIdentity, bool]:
    """The key in `path`, created (owner-only) when the file does not exist yet; True when created."""
    if Path(path).exists():
        return load_key_file(path), False
    return create_key_file(path), True


def delete_key_file(path: str | os.PathLike[str]) -> PublisherIdentity:
    """Delete a publisher key file after checking it is one (never some other file); returns the key it held."""
    identity = load_key_file(path)
    try:
        Path(path).unlink()
    except OSError as exc:
        raise IdentityError(f"cannot delete the key file {path}: {exc.strerror or exc}") from exc
    log.info("deleted publisher key %s in %s", identity.fingerprint, path)
    return identity
