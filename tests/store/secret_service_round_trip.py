"""The publisher-key round trip against a real Secret Service, with keyring's SecretService backend forced.

Run by tests/store/test_identity_secret_service.py inside `dbus-run-session`, with gnome-keyring-daemon
started and unlocked on that session bus. Prints one JSON object (fingerprints and outcomes, never a key)
and exits 0; exits 4 when the Secret Service is not reachable, saying why on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys

import keyring
from keyring.backends import SecretService

from ggen_desktop.core.record import decode_and_verify
from ggen_desktop.store.identity import (
    KEYRING_SERVICE,
    KEYRING_USERNAME,
    IdentityError,
    create_keyring_identity,
    delete_keyring_identity,
    load_keyring_identity,
)
from tests.helpers.packages import make_package

ATTRIBUTES = ["service", KEYRING_SERVICE, "username", KEYRING_USERNAME]


def secret_tool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Another client of the same Secret Service: what the daemon really holds, not what keyring remembers."""
    return subprocess.run(["secret-tool", *args], input=stdin, capture_output=True, text=True, timeout=30, check=False)


def main() -> int:
    backend = SecretService.Keyring()
    try:
        backend.priority  # noqa: B018  # raises when no Secret Service answers on the session bus
    except RuntimeError as exc:
        print(f"no Secret Service on the session bus: {exc}", file=sys.stderr)
        return 4
    keyring.set_keyring(backend)
    report: dict[str, object] = {"backend": type(keyring.get_keyring()).__module__}
    report["before"] = load_keyring_identity() is None
    created = create_keyring_identity()
    report["created"] = created.fingerprint
    stored = secret_tool("lookup", *ATTRIBUTES)
    report["daemon_holds_the_key"] = stored.returncode == 0 and stored.stdout.strip() == created.encoded()
    loaded = load_keyring_identity()
    report["loaded"] = loaded.fingerprint if loaded is not None else None
    record = loaded.sign_package(make_package()) if loaded is not None else None
    report["signature_verifies"] = record is not None and decode_and_verify(record.encoded).fingerprint == created.fingerprint
    try:
        create_keyring_identity()
        report["second_create"] = "replaced the key"
    except IdentityError as exc:
        report["second_create"] = str(exc)
    replaced = secret_tool("store", "--label=damaged", *ATTRIBUTES, stdin="not base64!")
    try:
        load_keyring_identity()
        report["damaged"] = f"loaded (store exit {replaced.returncode})"
    except IdentityError as exc:
        report["damaged"] = str(exc)
    report["deleted"] = delete_keyring_identity()
    report["after_delete"] = load_keyring_identity() is None
    report["daemon_after_delete"] = secret_tool("lookup", *ATTRIBUTES).stdout
    report["delete_again"] = delete_keyring_identity()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
