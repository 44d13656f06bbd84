"""The SMTP hand-over when recording it fails: the message is abandoned at once and the server keeps nothing.

``send_with_handover`` sends the body, records the hand-over in the database,
then sends the final dot. If the record step refuses (our claim was taken
over) or raises (the database went away), the session must be dropped
without a QUIT: inside DATA a QUIT is just another line of the message, so
the client would wait for a reply that never comes (``EMAIL_TIMEOUT``).
"""

from __future__ import annotations

import select
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from django.core.mail import EmailMessage, get_connection
from django.db import OperationalError

from recommender.digest.handover import HandoverAborted, peer_gone_before_dot, send_with_handover

pytestmark = pytest.mark.django_db


def _message() -> EmailMessage:
    return EmailMessage(subject="Digest", body="hello\n.\nstill the body", to=["reader@example.org"])


def _raise():
    raise OperationalError("database unreachable")


@pytest.mark.parametrize(
    "record, raised",
    [(lambda: False, HandoverAborted), (_raise, OperationalError)],
    ids=["claim-taken-over", "database-unreachable"],
)
def test_a_failed_record_abandons_the_message_fast_and_the_server_keeps_nothing(smtp_server, settings, record, raised):
    settings.EMAIL_TIMEOUT = 8
    backend = get_connection()
    backend.open()
    started = time.monotonic()
    with pytest.raises(raised):
        send_with_handover(backend, _message(), record=record)
    assert time.monotonic() - started < 2.0, "waited for a reply inside DATA"
    assert backend.connection is None  # the next message opens a fresh session
    backend.close()  # harmless afterwards
    time.sleep(0.3)
    assert smtp_server.messages == []
    # The same backend works again for the next message.
    backend.open()
    send_with_handover(backend, _message(), record=lambda: True)
    backend.close()
    (message,) = smtp_server.wait_for(1)
    assert "still the body" in message.get_content()


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory):
    """A self-signed certificate for localhost (openssl CLI): (server context, client context)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


def test_the_check_before_the_dot_tells_a_tls_session_ticket_from_a_hang_up(tls_contexts):
    """A TLS 1.3 server sends session tickets after the handshake: a readable socket, yet a live session."""
    server_context, client_context = tls_contexts
    listener = socket.create_server(("127.0.0.1", 0))
    hang_up = threading.Event()

    def serve():
        raw, _ = listener.accept()
        with server_context.wrap_socket(raw, server_side=True) as conn:
            conn.recv(5)
            hang_up.wait(10)

    threading.Thread(target=serve, daemon=True).start()
    raw = socket.create_connection(listener.getsockname())
    with client_context.wrap_socket(raw, server_hostname="localhost") as client:
        client.sendall(b"hello")
        time.sleep(0.3)  # the tickets are in the client's socket, unread
        assert client.version() != "TLSv1.3" or select.select([client], [], [], 0)[0], "no ticket arrived"
        assert peer_gone_before_dot(client) is None
        client.sendall(b"still alive")
        hang_up.set()
        time.sleep(0.3)
        assert peer_gone_before_dot(client) is not None
    listener.close()
