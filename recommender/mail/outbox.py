"""A local mail capture backend: each message becomes one ``.eml`` file.

The default ``EMAIL_URL`` (``outbox://``) uses it so that a fresh clone can
sign up, confirm and read digests with no mail server; the DEBUG-only
``/outbox/`` pages list and show what was captured.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

_lock = threading.Lock()


def outbox_dir() -> Path:
    return Path(getattr(settings, "OUTBOX_DIR", Path(settings.BASE_DIR) / "var" / "outbox"))


class OutboxBackend(BaseEmailBackend):
    """Write messages atomically to ``OUTBOX_DIR`` (or the URL's path)."""

    def __init__(self, fail_silently: bool = False, **kwargs):
        super().__init__(fail_silently=fail_silently)
        host = kwargs.get("host") or ""
        self.directory = Path(host) if host.startswith("/") else outbox_dir()

    def send_messages(self, email_messages) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            with _lock:
                stamp = f"{time.time_ns()}-{os.getpid()}-{sent}"
            tmp = self.directory / f".{stamp}.tmp"
            tmp.write_bytes(message.message().as_bytes(linesep="\r\n"))
            os.replace(tmp, self.directory / f"{stamp}.eml")
            sent += 1
        return sent
