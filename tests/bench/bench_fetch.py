"""Fetching an archive over BitTorrent (1 and 3 local seeders) against plain HTTP, on loopback.

Run: python tests/bench/bench_fetch.py [--mb 50] [--runs 3]
Every fetch ends the same way: the whole file on disk, fsynced, its sha256 checked.
HTTP is a threaded `http.server` on 127.0.0.1 read in 64 KiB chunks; BitTorrent is a
fresh TransferSession fetching by info-hash alone (the torrent comes from the seeders),
as a node does from a record. Time to first data is the first body chunk for HTTP and
the first verified piece for BitTorrent (its piece length is printed). Medians over the
runs; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ggen_desktop.net.transfer import TransferSession
from ggen_desktop.store.content import ContentStore

CHUNK = 64 * 1024


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def http_fetch(url: str, dest: Path, sha256: str) -> tuple[float, float]:
    """(seconds to the first body chunk, seconds to the checked, fsynced file)."""
    started = time.perf_counter()
    first = 0.0
    digest = hashlib.sha256()
    with urllib.request.urlopen(url) as response, dest.open("wb") as out:
        while chunk := response.read(CHUNK):
            first = first or time.perf_counter() - started
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    assert digest.hexdigest() == sha256
    return first, time.perf_counter() - started


async def bt_fetch(root: Path, run: str, info_hash: str, sha256: str, seeders: list[tuple[str, int]]) -> tuple[float, float]:
    session = TransferSession(ContentStore(root / run), "127.63.0.9")
    try:
        await session.start()
        started = session.loop.time()
        transfer = await session.download(info_hash, sha256, seeders)
        stored = await transfer.finished()
        total = session.loop.time() - started
        assert stored.sha256 == sha256 and transfer.first_piece_at is not None
        return transfer.first_piece_at - started, total
    finally:
        await session.close()


def summary(samples: list[tuple[float, float]], size: int) -> dict[str, float]:
    first = statistics.median(s[0] for s in samples)
    total = statistics.median(s[1] for s in samples)
    return {"first_data_ms": round(first * 1000, 1), "total_s": round(total, 3), "mb_per_s": round(size / total / 1e6, 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.mb * 1_000_000
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        source = root / "archive.tar.gz"
        source.write_bytes(os.urandom(size))

        served = root / "www"
        served.mkdir()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
        threading.Thread(target=server.serve_forever, daemon=True).start()

        seeders = [TransferSession(ContentStore(root / f"seeder{i}"), f"127.63.0.{i}") for i in (1, 2, 3)]
        try:
            addresses = [await s.start() for s in seeders]
            (info,) = {(await s.share(source))[0] for s in seeders}  # three nodes, one torrent
            os.link(seeders[0].store.path_for(info.sha256), served / info.sha256)
            url = f"http://127.0.0.1:{server.server_address[1]}/{info.sha256}"

            http_runs = [await asyncio.to_thread(http_fetch, url, root / f"http{i}", info.sha256) for i in range(args.runs)]
            one = [await bt_fetch(root, f"one{i}", info.info_hash, info.sha256, addresses[:1]) for i in range(args.runs)]
            three = [await bt_fetch(root, f"three{i}", info.info_hash, info.sha256, addresses) for i in range(args.runs)]
        finally:
            for seeder in seeders:
                await seeder.close()
            server.shutdown()
            server.server_close()

    result = {"archive_mb": args.mb, "runs": args.runs, "piece_kib": info.piece_length // 1024,
              "http": summary(http_runs, size), "bt_1_seeder": summary(one, size), "bt_3_seeders": summary(three, size)}
    for name in ("bt_1_seeder", "bt_3_seeders"):
        result[f"{name}_vs_http"] = {
            "throughput": round(result[name]["mb_per_s"] / result["http"]["mb_per_s"], 2),  # type: ignore[index]
            "first_data": round(result[name]["first_data_ms"] / result["http"]["first_data_ms"], 1),  # type: ignore[index]
        }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
