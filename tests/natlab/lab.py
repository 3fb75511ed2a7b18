"""A NAT lab on real kernel parts: four network namespaces joined by veth pairs and a bridge.

    public (internet host) --- router (NAT, firewall, UPnP IGD) --+-- home  (a desktop behind NAT)  HOME.2/24
      PUB.2/24        wan0: PUB.1/24   lan0 (bridge): HOME.1/24    +-- home2 (a second one)          HOME.3/24

The router masquerades LAN traffic leaving wan0 (nftables), forwards nothing
inbound unless it answers LAN traffic or a UPnP mapping allows it, and runs
Debian's `miniupnpd` (nftables backend) as the IGD on lan0. The public host has
no route to the home network: only the router's NAT connects them. The two home
hosts share the LAN, as two computers in one household do.

Every packet stays inside these namespaces: no veth end is ever created in the
caller's namespace, and nothing routes out of the four. Names are unique per lab,
so labs of parallel test runs do not meet.

Why a public-looking address on the public side: miniupnpd 2.3.1 refuses to map
ports when its external address is private or reserved (10/8, 100.64/10, the
documentation ranges, ...; it logs "Port forwarding is impossible" and answers
GetExternalIPAddress with an empty address), as a real router behind a second NAT
would. `NatLab(public_prefix="10.77.0")` builds exactly that double-NAT case.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

INSTALL_SCRIPT = Path(__file__).with_name("install.sh")
TOOLS = ("ip", "nft", "miniupnpd")
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"

# The public side: not a private or reserved range (see the module docstring); it exists only in the lab's namespaces.
PUBLIC_PREFIX = "11.77.0"
HOME_PREFIX = "192.168.77"

# The router's ruleset, modelled on miniupnpd's nft_init.sh: miniupnpd adds its rules to the three
# *_miniupnpd chains (named in its config); the rest is the home router's own NAT and firewall.
ROUTER_RULESET = """\
table inet {table} {{
    chain forward {{
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iifname "lan0" oifname "wan0" accept
        jump miniupnpd
    }}
    chain miniupnpd {{
    }}
    chain prerouting {{
        type nat hook prerouting priority -100; policy accept;
        jump prerouting_miniupnpd
    }}
    chain postrouting {{
        type nat hook postrouting priority 100; policy accept;
        jump postrouting_miniupnpd
        oifname "wan0" masquerade
    }}
    chain prerouting_miniupnpd {{
    }}
    chain postrouting_miniupnpd {{
    }}
}}
"""
NFT_TABLE = "ggenlab"

MINIUPNPD_CONFIG = """\
ext_ifname=wan0
listening_ip=lan0
http_port=0
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
system_uptime=no
ipv6_disable=yes
notify_interval=60
friendly_name=ggen-desktop NAT lab
uuid={uuid}
lease_file={lease_file}
upnp_table_name={table}
upnp_nat_table_name={table}
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 {home_prefix}.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""
IGD_READY_LINES = ("HTTP listening on port", "Listening for NAT-PMP/PCP traffic")
IGD_START_TIMEOUT = 10.0
STOP_TIMEOUT = 3.0


class LabError(Exception):
    """The lab could not be built or a step in it failed; the message says which and why."""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool, path=SBIN_PATH) is None]


def ensure_tools(install_timeout: float = 600.0) -> None:
    """Install the lab's Debian packages with install.sh when a tool is missing; LabError if still missing."""
    if not missing_tools():
        return
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=install_timeout,
                          check=False)
    still = missing_tools()
    if done.returncode != 0 or still:
        raise LabError(f"the NAT lab needs {', '.join(still) or 'its tools'}; {INSTALL_SCRIPT} exited "
                       f"{done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `predicate` until it holds; LabError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class NatLab:
    """The three namespaces, the router's NAT and (optionally) its IGD; a context manager that removes them all."""

    def __init__(self, workdir: Path, *, igd: bool = True, public_prefix: str = PUBLIC_PREFIX,
                 home_prefix: str = HOME_PREFIX) -> None:
        token = secrets.token_hex(3)
        self.public = f"ggl-{token}-public"
        self.router = f"ggl-{token}-router"
        self.home = f"ggl-{token}-home"
        self.home2 = f"ggl-{token}-home2"
        self.public_host_ip = f"{public_prefix}.2"
        self.router_public_ip = f"{public_prefix}.1"
        self.router_lan_ip = f"{home_prefix}.1"
        self.home_ip = f"{home_prefix}.2"
        self.home2_ip = f"{home_prefix}.3"
        self.home_prefix = home_prefix
        self.workdir = workdir
        self.igd_log_path = workdir / "miniupnpd.log"
        self._want_igd = igd
        self._igd: subprocess.Popen[bytes] | None = None
        self._spawned: list[subprocess.Popen[str]] = []
        self._namespaces: list[str] = []
        self._logs: list[IO[bytes]] = []

    # -- life cycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> NatLab:
        try:
            self._build()
            if self._want_igd:
                self.start_igd()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _build(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        namespaces = (self.public, self.router, self.home, self.home2)
        for ns in namespaces:
            done = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise LabError(f"cannot create network namespace {ns} (the NAT lab needs root or CAP_SYS_ADMIN "
                               f"and CAP_NET_ADMIN): {done.stderr.strip()}")
            self._namespaces.append(ns)
        # Every veth end is created directly inside the lab's namespaces, never in the caller's.
        self._ip(self.router, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", self.public)
        # No IGMP snooping on the LAN bridge: SSDP multicast reaches every port without a querier.
        self._ip(self.router, "link", "add", "lan0", "type", "bridge", "mcast_snooping", "0")
        for port, home in (("home0", self.home), ("home1", self.home2)):
            self._ip(self.router, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", home)
            self._ip(self.router, "link", "set", port, "master", "lan0", "up")
        for ns, device, address in ((self.public, "eth0", self.public_host_ip),
                                    (self.router, "wan0", self.router_public_ip),
                                    (self.router, "lan0", self.router_lan_ip),
                                    (self.home, "eth0", self.home_ip),
                                    (self.home2, "eth0", self.home2_ip)):
            self._ip(ns, "addr", "add", f"{address}/24", "dev", device)
            self._ip(ns, "link", "set", device, "up")
        for ns in namespaces:
            self._ip(ns, "link", "set", "lo", "up")
        for home in (self.home, self.home2):
            self._ip(home, "route", "add", "default", "via", self.router_lan_ip)
        self._ip(self.router, "route", "add", "default", "via", self.public_host_ip)
        self.run(self.router, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        ruleset = self.workdir / "router.nft"
        ruleset.write_text(ROUTER_RULESET.format(table=NFT_TABLE))
        self.run(self.router, ["nft", "-f", str(ruleset)])

    def close(self) -> None:
        """Stop every process started in the lab, then delete its namespaces (and with them the veth pairs)."""
        for process in self._spawned:
            _stop(process)
        self.stop_igd()
        self._spawned = []
        for ns in self._namespaces:
            # Anything still running inside a lab namespace was started there by this lab.
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        for ns in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self._namespaces = []
        for log in self._logs:
            log.close()
        self._logs = []

    # -- running things inside ----------------------------------------------------------------------------

    def run(self, ns: str, argv: Sequence[str], *, timeout: float = 30.0, check: bool = True,
            input_text: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside namespace `ns` to completion; LabError with its output if `check` and it fails."""
        done = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout,
                              input=input_text, env=env, check=False)
        if check and done.returncode != 0:
            raise LabError(f"{' '.join(argv)} in {ns} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def spawn(self, ns: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
              log_name: str | None = None) -> subprocess.Popen[str]:
        """Start `argv` inside `ns` with text pipes (stdin, stdout; stderr to `log_name` in the workdir, else piped).

        The lab stops it on close if it is still running.
        """
        stderr: IO[bytes] | int = subprocess.PIPE
        if log_name is not None:
            log = (self.workdir / log_name).open("wb")
            self._logs.append(log)
            stderr = log
        process = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=stderr, text=True, env=env)
        self._spawned.append(process)
        return process

    def add_public_host_address(self, address: str) -> None:
        """One more address on the public host (another internet host, in the router's public /24)."""
        self._ip(self.public, "addr", "add", f"{address}/24", "dev", "eth0")

    def _ip(self, ns: str, *args: str) -> None:
        done = subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LabError(f"ip -n {ns} {' '.join(args)}: {done.stderr.strip()}")

    # -- the router's IGD and rules -------------------------------------------------------------------------

    def start_igd(self) -> None:
        """Run miniupnpd in the foreground in the router namespace and wait until it serves UPnP and NAT-PMP."""
        if self._igd is not None:
            return
        config = self.workdir / "miniupnpd.conf"
        config.write_text(MINIUPNPD_CONFIG.format(uuid=uuid.uuid4(), lease_file=self.workdir / "miniupnpd.leases",
                                                  table=NFT_TABLE, home_prefix=self.home_prefix))
        start = len(self.igd_log())  # this start's lines only; a restarted IGD appends to the same log
        log = self.igd_log_path.open("ab")
        self._logs.append(log)
        binary = shutil.which("miniupnpd", path=SBIN_PATH) or "miniupnpd"
        self._igd = subprocess.Popen(["ip", "netns", "exec", self.router, binary, "-f", str(config), "-d",
                                      "-P", str(self.workdir / "miniupnpd.pid")],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        igd = self._igd

        def ready() -> bool:
            if igd.poll() is not None:
                raise LabError(f"miniupnpd exited {igd.returncode} at start: {self.igd_log()[-1500:]}")
            text = self.igd_log()[start:]
            return all(line in text for line in IGD_READY_LINES)

        wait_for(ready, IGD_START_TIMEOUT, "miniupnpd to listen")
        errors = [line for line in self.igd_log()[start:].splitlines() if "error" in line.lower()]
        if errors:
            raise LabError("miniupnpd logged errors at start: " + " | ".join(errors))

    def stop_igd(self) -> None:
        if self._igd is not None:
            _stop(self._igd)
            self._igd = None

    def igd_log(self) -> str:
        return self.igd_log_path.read_text(errors="replace") if self.igd_log_path.exists() else ""

    def router_rules(self) -> str:
        """The router's nftables table as `nft list` prints it (miniupnpd's mappings show as dnat/accept rules)."""
        return self.run(self.router, ["nft", "list", "table", "inet", NFT_TABLE]).stdout


def _stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; always reaped."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
