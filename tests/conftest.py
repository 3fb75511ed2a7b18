"""Suite-wide fixtures. Keep this small: folder-specific fixtures belong in that folder's conftest."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import keyring.core
import pytest

from tests.helpers.memory_keyring import MemoryKeyring


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    """Every test gets an empty in-memory keyring, so none can read or write the real one.

    The previous backend is restored through keyring's module global rather
    than `keyring.get_keyring()`, which would probe the system's backends.
    """
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend


@pytest.fixture(autouse=True)
def private_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the data, config and log folders at temporary ones, so no test touches the user's."""
    root = tmp_path_factory.mktemp("ggen-home")
    for name in ("DATA", "CONFIG", "LOG"):
        monkeypatch.setenv(f"GGEN_DESKTOP_{name}_DIR", str(root / name.lower()))


@pytest.fixture(autouse=True)
def no_router_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """No App looks for the LAN's router (UPnP, SSDP): only NAT lab nodes do, inside the lab's namespaces.
    Set in the environment, so the command-line processes tests start inherit it."""
    monkeypatch.setenv("GGEN_DESKTOP_NO_PORT_MAPPING", "1")
