"""A real HTTP server on loopback that speaks the OpenAI chat-completions API, for the tests.

It answers ``POST /v1/chat/completions`` with scripted replies, in order
(``server.script(reply, ...)``), then with ``server.default(body)``: a plausible
translation of a title and TL;DR, or of an abstract (CJK for zh/ja/ko, Cyrillic
for ru, Latin otherwise, keeping the source's numbers and formulas), or a TL;DR
made of the abstract's own words (its shortest sentence).
Every request is recorded (``server.requests``: parsed JSON bodies and headers)
so tests can count calls and read what was sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted answer: a completion text, or a raw status/body, optionally after a delay."""

    content: str | None = None
    status: int = 200
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    body: dict
    headers: dict

    @property
    def system(self) -> str:
        return self.body["messages"][0]["content"]

    @property
    def user(self) -> str:
        return self.body["messages"][1]["content"]


_NUMBERS = re.compile(r"\$[^$]+\$|(?<![\w.])\d+(?:[.,]\d+)*%?")
_FILL = {
    "zh": "这篇论文研究了一个重要的问题并提出了新的方法",
    "ja": "この論文は重要な問題を研究し新しい手法を提案します",
    "ko": "이 논문은 중요한 문제를 연구하고 새로운 방법을 제안합니다",
    "ru": "Эта статья изучает важную задачу и предлагает новый метод",
}
_LANG_NAMES = {"Chinese": "zh", "Japanese": "ja", "Korean": "ko", "Russian": "ru"}


def _between(text: str, tag: str) -> str:
    match = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", text, re.DOTALL)
    return match.group(1).strip() if match else ""


def fake_translation(source: str, language: str) -> str:
    """A stand-in translation of ``source``: the right script and length, numbers and formulas kept."""
    kept = " ".join(_NUMBERS.findall(source))
    if language in _FILL:
        filler = _FILL[language]
        target = max(len(filler) // 2, int(len(source) * (0.35 if language != "ru" else 1.0)))
        text = (filler * (target // len(filler) + 1))[:target]
        return f"{text} {kept}".strip()
    return f"Traduction de {source}"


def _language(system: str) -> str:
    return next((code for name, code in _LANG_NAMES.items() if f"into {name}" in system), "fr")


def translation_reply(body: dict) -> str:
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    language = _language(system)
    title, tldr = _between(user, "title"), _between(user, "tldr")
    return f"TITLE: {fake_translation(title, language)}\nTLDR: {fake_translation(tldr, language)}"


def abstract_translation_reply(body: dict) -> str:
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    return fake_translation(_between(user, "abstract"), _language(system))


def summary_reply(body: dict) -> str:
    abstract = _between(body["messages"][1]["content"], "abstract")
    sentences = [s for s in re.split(r"(?<=\.)\s+", abstract) if len(s.split()) >= 5]
    shortest = min(sentences, key=len) if sentences else (abstract or "Nothing to summarise.")
    return "The paper shows that " + shortest[0].lower() + shortest[1:]


def is_abstract_translation(body: dict) -> bool:
    return "You translate the abstract" in body["messages"][0]["content"]


def default_reply(body: dict) -> str:
    if is_abstract_translation(body):
        return abstract_translation_reply(body)
    if "You translate" in body["messages"][0]["content"]:
        return translation_reply(body)
    return summary_reply(body)


class FakeLLM:
    def __init__(self):
        self.requests: list[Seen] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self.default = default_reply
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                with server._lock:
                    server.requests.append(Seen(body=body, headers=dict(self.headers)))
                    reply = server._script.pop(0) if server._script else None
                if self.path != "/v1/chat/completions":
                    return self._send(404, b'{"error": "not found"}', {})
                if reply is None:
                    reply = Reply(content=server.default(body))
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.body is not None or reply.content is None:
                    return self._send(reply.status, reply.body or b"", reply.headers)
                payload = {
                    "id": f"chatcmpl-{len(server.requests)}",
                    "object": "chat.completion",
                    "model": body.get("model", "fake"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130},
                }
                self._send(reply.status, json.dumps(payload).encode(), reply.headers)

            def _send(self, status: int, data: bytes, headers: dict):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def count(self) -> int:
        return len(self.requests)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
