#!/usr/bin/env bash
# Installs what the NAT lab needs (Debian): network namespaces and veth pairs (iproute2),
# the router's NAT (nftables) and a real UPnP IGD (miniupnpd). Run as root.
# The lab fixture runs this when one of the tools is missing.
#
# Debian's miniupnpd package asks debconf questions and starts a system-wide service
# on install; neither is wanted here: the lab writes its own config and runs the
# daemon in the foreground inside the router namespace only.
set -euo pipefail

tools_present() {
    command -v ip >/dev/null && command -v nft >/dev/null && { command -v miniupnpd >/dev/null || [ -x /usr/sbin/miniupnpd ]; }
}

if tools_present; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# The package's postinst would start the daemon on the host; policy-rc.d forbids starting services during install.
policy=/usr/sbin/policy-rc.d
made_policy=no
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    made_policy=yes
fi
cleanup() { if [ "$made_policy" = yes ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

# Answer the package's questions: no automatic start, no interface guessing.
echo "miniupnpd miniupnpd/start_daemon boolean false" | debconf-set-selections 2>/dev/null || true

install() {
    apt-get install -y -q --no-install-recommends miniupnpd nftables iproute2
}
if ! install; then
    apt-get update -q
    install
fi
