#!/usr/bin/env bash
# Installs a real Secret Service for the keyring tests (Debian): gnome-keyring's daemon, a D-Bus
# session bus (dbus-run-session), and secret-tool to read an entry back. Run as root.
# tests/store/test_identity_secret_service.py runs this when one of the tools is missing.
#
# Nothing is started here: each test starts its own daemon on its own session bus, in a
# temporary home, and both end with the test.
set -euo pipefail

tools_present() {
    command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null && command -v secret-tool >/dev/null
}

if tools_present; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install() {
    apt-get install -y -q --no-install-recommends gnome-keyring dbus dbus-x11 libsecret-tools
}
if ! install; then
    apt-get update -q
    install
fi
tools_present
