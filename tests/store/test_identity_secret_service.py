"""The publisher key in a real Secret Service: gnome-keyring-daemon on a private D-Bus session, unlocked
with a test password, keyring's SecretService backend forced (the path desktop users take).

The daemon runs in a temporary home inside `dbus-run-session` and ends with it. The tools are installed by
tests/store/install_keyring.sh when missing; if they cannot be installed or the daemon cannot start, the
test fails and says which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INSTALL = HERE / "install_keyring.sh"
ROUND_TRIP = HERE / "secret_service_round_trip.py"
TOOLS = ("gnome-keyring-daemon", "dbus-run-session", "secret-tool")
PASSWORD = "ggen-test-password"
DAEMON_FAILED = 3
# Start and unlock the daemon on this session's bus (the password on stdin), then run the round trip.
SESSION = (
    'printf %s "$KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null '
    f'|| {{ echo "gnome-keyring-daemon could not start or unlock the keyring" >&2; exit {DAEMON_FAILED}; }}; '
    'exec "$@"'
)


def ensure_tools() -> None:
    if all(shutil.which(tool) for tool in TOOLS):
        return
    done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=900, check=False)
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if done.returncode != 0 or missing:
        pytest.fail(f"cannot install a Secret Service for the keyring test ({INSTALL.name} exit {done.returncode}, "
                    f"missing {missing}): {done.stderr.strip()[-800:]}")


def round_trip(tmp_path: Path) -> dict[str, Any]:
    home = tmp_path / "home"
    runtime = home / "run"
    runtime.mkdir(parents=True, mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"), "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT), "KEYRING_PASSWORD": PASSWORD,
    }
    command = ["dbus-run-session", "--", "bash", "-c", SESSION, "session", sys.executable, str(ROUND_TRIP)]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode == DAEMON_FAILED:
        pytest.fail(f"the Secret Service daemon did not start: {done.stderr.strip()[-800:]}")
    if done.returncode != 0:
        pytest.fail(f"the key round trip in a real Secret Service failed (exit {done.returncode}): "
                    f"{done.stderr.strip()[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_publisher_key_round_trip_in_gnome_keyring(tmp_path: Path) -> None:
    ensure_tools()
    report = round_trip(tmp_path)
    assert report["backend"] == "keyring.backends.SecretService"
    assert report["before"] is True  # a fresh keyring holds no key
    assert report["daemon_holds_the_key"] is True  # the daemon itself has it, not just a cache in the process
    assert report["loaded"] == report["created"] and report["signature_verifies"] is True
    assert "already holds a publisher key" in report["second_create"]
    assert "not base64" in report["damaged"]  # a damaged entry is a clear error, not a crash
    assert report["deleted"] is True and report["after_delete"] is True
    assert report["daemon_after_delete"] == "" and report["delete_again"] is False
