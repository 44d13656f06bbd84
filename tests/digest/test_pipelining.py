"""SMTP PIPELINING (RFC 2920) in the hand-over: MAIL, RCPT and DATA in one write when the server offers it.

Against a real aiosmtpd server that offers PIPELINING or not: the commands' writes are counted from
smtplib's own debug output (``set_debuglevel``: one ``send:`` line per write), every message arrives,
and refusals keep the session in step (a refused recipient, every recipient refused, then the next
message on the same connection).
"""

from __future__ import annotations

import smtplib

import pytest
from django.core.mail import EmailMessage, get_connection

from recommender.digest.handover import send_with_handover
from tests.conftest import SMTPSink


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def server(request):
    sink = SMTPSink(pipelining=request.param)
    sink.pipelining = request.param
    yield sink
    sink.stop()


def _backend(server):
    backend = get_connection("django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=server.port)
    backend.open()
    backend.connection.set_debuglevel(1)  # smtplib prints one "send:" line per write, to stderr
    return backend


def _writes(err: str) -> list[str]:
    """The client's command writes (the body and the final dot left out)."""
    return [
        line
        for line in err.splitlines()
        if line.startswith("send:") and any(verb in line.upper() for verb in ("MAIL FROM", "RCPT TO", "DATA"))
    ]


def test_mail_rcpt_and_data_go_in_one_write_when_the_server_offers_pipelining(server, capfd):
    backend = _backend(server)
    message = EmailMessage("Digest", "body", "paperboy@example.org", ["a@example.org"], cc=["b@example.org"])
    send_with_handover(backend, message, record=lambda: True)
    backend.close()
    writes = _writes(capfd.readouterr().err)
    if server.pipelining:
        assert len(writes) == 1 and all(verb in writes[0] for verb in ("MAIL FROM", "RCPT TO", "DATA")), writes
        assert writes[0].count("RCPT TO") == 2
    else:
        assert len(writes) == 4, writes  # MAIL, RCPT, RCPT, DATA
    [envelope] = server.envelopes
    assert sorted(envelope.rcpt_tos) == ["a@example.org", "b@example.org"]


def test_refusals_keep_the_session_in_step(server):
    server.refused = {"gone@example.org", "also-gone@example.org"}
    backend = _backend(server)
    send_with_handover(
        backend,
        EmailMessage("One refused", "body", "p@example.org", ["gone@example.org", "a@example.org"]),
        record=lambda: True,
    )
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_with_handover(
            backend,
            EmailMessage("All refused", "body", "p@example.org", ["gone@example.org", "also-gone@example.org"]),
            record=lambda: pytest.fail("nothing may be recorded for a message no server took"),
        )
    assert set(refused.value.recipients) == {"gone@example.org", "also-gone@example.org"}
    # The same connection, the replies of the refused transaction all read: the next message goes through.
    send_with_handover(backend, EmailMessage("Next", "body", "p@example.org", ["b@example.org"]), record=lambda: True)
    backend.close()
    assert [m["Subject"] for m in server.wait_for(2)] == ["One refused", "Next"]
    assert [e.rcpt_tos for e in server.envelopes] == [["a@example.org"], ["b@example.org"]]
