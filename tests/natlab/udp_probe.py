"""Plain UDP ends for the lab, run inside a namespace; each prints JSON lines.

  udp_probe.py send HOST PORT PAYLOAD TIMEOUT  -> {"reply": text or null, "from": [ip, port] or null, "error": ...}
  udp_probe.py echo PORT                       -> {"ready": true}, then {"from": [ip, port], "data": text} per
                                                  datagram, each answered with b"echo:" + data; runs until killed
"""

from __future__ import annotations

import json
import socket
import sys


def send(host: str, port: int, payload: str, timeout: float) -> dict[str, object]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(payload.encode(), (host, port))
            data, sender = sock.recvfrom(2048)
        except TimeoutError:
            return {"reply": None, "from": None, "error": "timeout"}
        except OSError as exc:
            return {"reply": None, "from": None, "error": exc.strerror or str(exc)}
        return {"reply": data.decode(), "from": list(sender), "error": None}


def echo(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", port))
        print(json.dumps({"ready": True}), flush=True)
        while True:
            data, sender = sock.recvfrom(2048)
            print(json.dumps({"from": list(sender), "data": data.decode()}), flush=True)
            sock.sendto(b"echo:" + data, sender)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        print(json.dumps(send(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))))
    else:
        echo(int(sys.argv[2]))
