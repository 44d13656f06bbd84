"""Hand a message to the mail server with the smallest possible "in doubt" window.

SMTP commits a message when the server reads the final ``.`` of DATA. If our
worker dies between recording "handed over" and that dot, a naive sender
either loses the digest (it believes the server has it) or, if it resends,
risks a duplicate (RFC 1047). Over SMTP we therefore transmit the whole
message body first, then record the hand-over in the database, and only
then send the terminating dot: a worker killed before the record leaves the
server holding an unterminated DATA, which it discards when the connection
drops, so the delivery is simply retried; a worker killed after the record
has, but for the few microseconds before the dot is written, handed the
message over. On PostgreSQL the record's COMMIT is written to the database
socket just before the dot and its reply read just after (``settle``), so
that window is two back-to-back writes, not a database round trip plus the
time a loaded machine takes to wake the worker. Backends that are not SMTP (ESP HTTP APIs, the outbox) record
first and send after, with the ESP's own request as the window.
"""

from __future__ import annotations

import contextlib
import gc
import select
import smtplib
import socket
import ssl
from collections.abc import Callable

from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address

CRLF = b"\r\n"


class HandoverAborted(Exception):
    """The record step refused (our claim was taken over); nothing was committed at the server."""


class HandoverInDoubt(Exception):
    """The whole message and its final dot were sent but no reply came (timeout, disconnect).

    The server may have accepted it: resending could deliver it twice.
    """


class HandoverNotSent(smtplib.SMTPServerDisconnected):
    """The server hung up, reset the connection or spoke before the final dot was sent.

    Without the dot the server cannot have committed the message: this is a
    transient error like any disconnect, never "in doubt".
    """


def peer_gone_before_dot(sock) -> str | None:
    """Why the final dot must not be sent on ``sock``, or None if the connection looks alive.

    Inside DATA a healthy server says nothing until it has read the dot, so a
    readable socket means it closed (EOF), reset, or answered early (e.g. a
    421 before hanging up). One ``poll`` with no timeout and, for plain TCP,
    a non-blocking ``MSG_PEEK`` to tell which (TLS sockets cannot peek).
    """
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLPRI)
    if not poller.poll(0) and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
        return None
    if isinstance(sock, ssl.SSLSocket):
        return _tls_peer_gone(sock)
    try:
        peeked = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return None
    except OSError as exc:
        return f"connection reset before the final dot: {exc!r}"
    if not peeked:
        return "the server closed the connection before the final dot"
    return "the server answered before the final dot"


def _tls_peer_gone(sock: ssl.SSLSocket) -> str | None:
    """The TLS flavour of the check: a non-blocking read of one byte of application data.

    A TLS socket can be readable for records that carry no data (a TLS 1.3
    session ticket sent after the handshake): the read consumes them and
    reports "want read", and the session is alive. Any byte read means the
    server spoke inside DATA; the session is dropped then anyway.
    """
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        data = sock.recv(1)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        return None
    except OSError as exc:  # ssl.SSLError is an OSError
        return f"TLS session broken before the final dot: {exc!r}"
    finally:
        sock.settimeout(timeout)
    return (
        "the server closed the TLS session before the final dot"
        if not data
        else "the server answered before the final dot"
    )


def send_with_handover(
    backend, message, *, record: Callable[[], bool], settle: Callable[[], None] | None = None
) -> None:
    """Send ``message`` through ``backend``; call ``record()`` at the commit point.

    ``record`` returns False when the send must not happen (e.g. our lease on
    the delivery was lost); then :class:`HandoverAborted` is raised and the
    server never commits the message. ``settle`` (optional) finishes what
    ``record`` left in flight (the database's reply to its COMMIT): over SMTP
    it runs right after the dot, elsewhere before the message is sent.
    """
    settle = settle or _nothing
    if isinstance(backend, SMTPBackend) and backend.connection is not None:
        _smtp_two_phase(backend, message, record, settle)
        return
    if not record():
        raise HandoverAborted
    settle()
    if hasattr(message, "email_message"):  # a RawDigestMessage: the equivalent EmailMessage for an ESP backend
        message = message.email_message(backend)
    backend.send_messages([message])


def _nothing() -> None:
    return None


def _smtp_two_phase(backend: SMTPBackend, message, record: Callable[[], bool], settle: Callable[[], None]) -> None:
    conn: smtplib.SMTP = backend.connection
    encoding = message.encoding or "utf-8"
    from_email = sanitize_address(message.from_email, encoding)
    recipients = [sanitize_address(addr, encoding) for addr in message.recipients()]
    body = message.as_smtp_bytes() if hasattr(message, "as_smtp_bytes") else message.message().as_bytes(linesep="\r\n")
    _start_data(conn, from_email, recipients)
    conn.send(_dot_stuffed(body))
    _refuse_the_dot_if_the_peer_is_gone(backend)  # nothing recorded yet: a plain transient error
    _record_then_dot(backend, record, settle)
    try:
        code, reply = conn.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        # The server read the dot: it may have accepted the message before the reply was lost.
        raise HandoverInDoubt(f"no reply after the final dot: {exc!r}") from exc
    if code != 250:
        # The server answered: it does not have the message (4xx transient, 5xx permanent), whatever RSET
        # does on a session the server may be closing (a 421 comes with a hang-up).
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.rset()
        raise smtplib.SMTPDataError(code, reply)


def _start_data(conn: smtplib.SMTP, from_email: str, recipients: list[str]) -> None:
    """MAIL, RCPT, DATA up to the server's 354 (what ``smtplib.SMTP.sendmail`` does before the body).

    Pipelined (RFC 2920) when the server offers PIPELINING and the addresses are ASCII: the commands go
    out in one write and the replies are read in order, one round trip instead of two plus one per
    recipient (smtplib sends each command and waits for its reply). Otherwise one command at a time.
    """
    conn.ehlo_or_helo_if_needed()
    options = ["SMTPUTF8"] if conn.has_extn("smtputf8") and not from_email.isascii() else []
    if conn.has_extn("pipelining") and not options:
        replies = _pipelined(conn, from_email, recipients)
    else:
        replies = _one_by_one(conn, from_email, recipients, options)
    (mail_code, mail_reply), *rcpt_replies, (data_code, data_reply) = replies
    refused = {
        rcpt: (code, reply)
        for rcpt, (code, reply) in zip(recipients, rcpt_replies, strict=False)
        if code not in (250, 251)
    }
    if mail_code == 250 and len(refused) < len(recipients) and data_code == 354:
        return
    if data_code == 354:
        # A server that took DATA after refusing the sender or every recipient: end the empty transaction.
        conn.send(b"." + CRLF)
        conn.getreply()
    conn.rset()
    if mail_code != 250:
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, from_email)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    raise smtplib.SMTPDataError(data_code, data_reply)


def _pipelined(conn: smtplib.SMTP, from_email: str, recipients: list[str]) -> list[tuple[int, bytes]]:
    """Send MAIL, every RCPT and DATA in one write; read their replies (MAIL, each RCPT, DATA) in order."""
    commands = [f"MAIL FROM:{smtplib.quoteaddr(from_email)}"]
    commands += [f"RCPT TO:{smtplib.quoteaddr(rcpt)}" for rcpt in recipients]
    commands.append("DATA")
    conn.send("".join(command + "\r\n" for command in commands))
    return [conn.getreply() for _ in commands]


def _one_by_one(
    conn: smtplib.SMTP, from_email: str, recipients: list[str], options: list[str]
) -> list[tuple[int, bytes]]:
    """MAIL, then RCPT and DATA only as far as the replies allow (a refused sender stops there)."""
    mail = conn.mail(from_email, options)
    if mail[0] != 250:
        return [mail, *[(0, b"")] * len(recipients), (0, b"")]
    rcpts = [conn.rcpt(rcpt) for rcpt in recipients]
    if all(code not in (250, 251) for code, _ in rcpts):
        return [mail, *rcpts, (0, b"")]
    return [mail, *rcpts, conn.docmd("data")]


def _dot_stuffed(body: bytes) -> bytes:
    """The body as DATA sends it (RFC 5321 4.5.2), without the final dot.

    Both kinds of message have CRLF line ends only and start with a header
    line, so doubling a dot after every CRLF is the whole of the transparency
    rule (what ``smtplib.SMTP.data`` does with a regex).
    """
    data = body.replace(b"\r\n.", b"\r\n..")
    return data if data[-2:] == CRLF else data + CRLF


def _record_then_dot(backend: SMTPBackend, record: Callable[[], bool], settle: Callable[[], None]) -> None:
    """Record the hand-over, look at the socket once more, send the dot; always settle the record."""
    # Between the committed record and the dot the message is "in doubt": keep that window to microseconds.
    # A full garbage collection triggered by an allocation in there (a worker holds a large heap: the
    # model, the batch, the fragment cache) could otherwise stretch it to tens of milliseconds.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            recorded = record()
        except BaseException:
            _drop(backend)
            raise
        if not recorded:
            _drop(backend)
            raise HandoverAborted
        # The record took a database round trip: a hang-up that arrived meanwhile is seen here, and the
        # dot is not sent (the caller releases the recorded claim: no dot, no message at the server).
        _refuse_the_dot_if_the_peer_is_gone(backend)
        backend.connection.send(b"." + CRLF)  # a failed write sent nothing: SMTPServerDisconnected, transient
    finally:
        if collecting:
            gc.enable()
        settle()  # even if the dot could not be written: the database connection must not keep a reply unread


def _refuse_the_dot_if_the_peer_is_gone(backend: SMTPBackend) -> None:
    """Raise :class:`HandoverNotSent` (after dropping the session) if the server is no longer listening."""
    reason = peer_gone_before_dot(backend.connection.sock)
    if reason is None:
        return
    _drop(backend)
    raise HandoverNotSent(reason)


def _drop(backend: SMTPBackend) -> None:
    """Close the socket mid-DATA without QUIT: the server discards the unterminated message.

    ``backend.close()`` would send QUIT, which inside DATA is just another line
    of the message, and then wait ``EMAIL_TIMEOUT`` for a reply that never comes.
    """
    try:
        backend.connection.close()
    finally:
        backend.connection = None
