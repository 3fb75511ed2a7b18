"""Wall time of a one-shot `ggen-desktop search` that finds a package, after N earlier one-shot commands.

Run: python tests/bench/bench_cli.py [--nodes 3] [--checkpoints 0,12,50] [--repeats 3]

A small loopback network of `node` processes (their own data folders and homes), one package
published through the first node's control endpoint (so no node joins for it), and a `node` on
the searcher's folder S. Then, per checkpoint N:

- fallback: `search` with a fresh data folder no node runs on, so it starts a node of its own that
  joins through --bootstrap and leaves (the path of every one-shot command before the control
  endpoint, and still the path without a local node);
- endpoint: `search --data-dir S`, run inside S over its control socket; nothing joins.

The earlier commands are fallback searches from fresh folders (each a new node id that joins and
leaves: the dead contacts issue 11 is about). Each fallback sample is itself a one-shot command, so
the samples at checkpoint N were taken after N, N+1, ... earlier commands (the JSON lists the exact
counts); for N=0 each sample gets a network of its own. Medians; ratios are against N=0; the goal
(issue 11) is a search under 1 s after a dozen one-shot commands. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.helpers.node_process import MANIFEST, NodeProcess, run_cli

FOUND = "acme/quantum-widget 1.2.0"


class Network:
    """`nodes` node processes and a node on the searcher's folder S, the package published through the first."""

    def __init__(self, root: Path, nodes: int) -> None:
        self.root = root
        self.processes: list[NodeProcess] = []
        self.one_shots = 0
        try:
            first = self._start("node0")
            for i in range(1, nodes):
                self._start(f"node{i}", "--bootstrap", first.address)
            self.bootstrap = first.address
            self.searcher = self._start("searcher", "--bootstrap", first.address)
            (root / "pkg").mkdir()
            (root / "pkg" / "ggen-package.toml").write_text(MANIFEST)
            published = run_cli(root / "publisher", "publish", str(root / "pkg"), "--data-dir", str(first.data_dir),
                                "--key-file", str(root / "publisher.key"))
            assert published.returncode == 0, published.stderr
        except BaseException:
            self.close()
            raise

    def _start(self, name: str, *extra: str) -> NodeProcess:
        node = NodeProcess(self.root / name, *extra)
        self.processes.append(node)
        return node

    def one_shot_search(self) -> float:
        """A fallback search from a fresh folder: its wall time; it must find the package."""
        self.one_shots += 1
        home = self.root / f"oneshot{self.one_shots}"
        return timed(home, "search", "quantum", "--data-dir", str(home / "data"), "--bootstrap", self.bootstrap,
                     "--interface", "127.0.0.1", "--timeout", "5")

    def endpoint_search(self) -> float:
        home = self.root / "user"
        return timed(home, "search", "quantum", "--data-dir", str(self.searcher.data_dir), "--timeout", "5")

    def close(self) -> None:
        for node in self.processes:
            node.end()


def timed(home: Path, *args: str) -> float:
    started = time.perf_counter()
    done = run_cli(home, *args, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or FOUND not in done.stdout:
        raise SystemExit(f"search did not find the package: {done.returncode} {done.stdout!r} {done.stderr!r}")
    return elapsed


def measure(nodes: int, checkpoints: list[int], repeats: int) -> dict[str, object]:
    fallback: dict[int, list[tuple[int, float]]] = {}
    endpoint: dict[int, list[float]] = {}
    earlier: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        root = Path(scratch)
        if 0 in checkpoints:  # each N=0 fallback sample on a network no one-shot command has touched
            fallback[0], endpoint[0] = [], []
            for r in range(repeats):
                network = Network(root / f"fresh{r}", nodes)
                try:
                    endpoint[0].append(network.endpoint_search())
                    fallback[0].append((0, network.one_shot_search()))
                finally:
                    network.close()
        network = Network(root / "long", nodes)
        try:
            for n in sorted(c for c in checkpoints if c > 0):
                while network.one_shots < n:
                    earlier.append(network.one_shot_search())
                    print(f"  earlier command {network.one_shots}: {earlier[-1]:.2f} s", file=sys.stderr, flush=True)
                endpoint[n] = [network.endpoint_search() for _ in range(repeats)]
                fallback[n] = []
                for _ in range(repeats):
                    before = network.one_shots
                    fallback[n].append((before, network.one_shot_search()))
                print(f"N={n}: fallback {[round(s, 2) for _, s in fallback[n]]} s, "
                      f"endpoint {[round(s, 2) for s in endpoint[n]]} s", file=sys.stderr, flush=True)
        finally:
            network.close()

    def medians(samples: dict[int, list[float]]) -> dict[str, float]:
        return {str(n): round(statistics.median(values), 3) for n, values in sorted(samples.items())}

    fallback_s = medians({n: [s for _, s in values] for n, values in fallback.items()})
    endpoint_s = medians(endpoint)

    def ratios(values: dict[str, float]) -> dict[str, float]:
        return {n: round(v / values["0"], 2) for n, v in values.items()} if "0" in values else {}

    after_dozen = {k: v for k, v in (("fallback", fallback_s.get("12")), ("endpoint", endpoint_s.get("12"))) if v}
    return {
        "nodes": nodes, "repeats": repeats,
        "fallback_median_s": fallback_s, "fallback_ratio": ratios(fallback_s),
        "fallback_exact_n": {str(n): [b for b, _ in values] for n, values in sorted(fallback.items())},
        "endpoint_median_s": endpoint_s, "endpoint_ratio": ratios(endpoint_s),
        "earlier_command_median_s": round(statistics.median(earlier), 3) if earlier else None,
        "goal_under_1s_after_12": {k: v < 1.0 for k, v in after_dozen.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3, help="node processes besides the searcher's (default 3)")
    parser.add_argument("--checkpoints", default="0,12,50", help="earlier one-shot commands before each measure")
    parser.add_argument("--repeats", type=int, default=3, help="samples per checkpoint and path (default 3)")
    args = parser.parse_args()
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    try:
        print(json.dumps(measure(args.nodes, checkpoints, args.repeats)), flush=True)
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(f"a command took over {exc.timeout} s") from None


if __name__ == "__main__":
    main()
