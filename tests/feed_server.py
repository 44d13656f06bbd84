"""A local HTTP server replaying scripted replies: the arXiv, Hugging Face, ORCID and library sources in tests.

The ``feed_server`` fixture (tests/conftest.py) starts one per test; tests script it with ``Reply``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    content_type: str = "application/xml; charset=utf-8"
    delay: float = 0.0  # seconds before the body (slow server)
    drip: float = 0.0  # seconds between 1 KiB chunks of the body
    length: bool = True  # False: no Content-Length, body ends when the connection closes


class FeedServer:
    """An http.server on 127.0.0.1 replaying scripted replies per path.

    ``route(path, *replies)``: successive requests to ``path`` get successive
    replies (the last one repeats); a callable reply maps the full request
    path (with its query) to a ``Reply``. ``requests`` logs (path_with_query, headers).
    """

    def __init__(self):
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                path = self.path.split("?", 1)[0]
                replies = server.routes.get(self.path) or server.routes.get(path)
                if not replies:
                    reply = Reply(status=404, body=b"not found", content_type="text/plain")
                elif callable(replies[0]):
                    reply = replies[0](self.path)
                else:
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    if reply.content_type:
                        self.send_header("Content-Type", reply.content_type)
                    if reply.length:
                        self.send_header("Content-Length", str(len(reply.body)))
                    else:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if reply.drip:
                        for start in range(0, len(reply.body), 1024):
                            self.wfile.write(reply.body[start : start + 1024])
                            self.wfile.flush()
                            time.sleep(reply.drip)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.url(path)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
