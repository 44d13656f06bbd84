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

import gc
import smtplib
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
    raw = hasattr(message, "as_smtp_bytes")
    body = message.as_smtp_bytes() if raw else message.message().as_bytes(linesep="\r\n")
    conn.ehlo_or_helo_if_needed()
    options = ["SMTPUTF8"] if conn.has_extn("smtputf8") and not from_email.isascii() else []
    code, reply = conn.mail(from_email, options)
    if code != 250:
        conn.rset()
        raise smtplib.SMTPSenderRefused(code, reply, from_email)
    refused = {}
    for rcpt in recipients:
        code, reply = conn.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, reply)
    if len(refused) == len(recipients):
        conn.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = conn.docmd("data")
    if code != 354:
        conn.rset()
        raise smtplib.SMTPDataError(code, reply)
    # The dot-stuffing smtplib.SMTP.data applies; a raw message has only CRLF line ends and starts with a header,
    # so a plain replace does the same without a regex.
    data = body.replace(b"\r\n.", b"\r\n..") if raw else smtplib._quote_periods(body)
    if data[-2:] != CRLF:
        data += CRLF
    conn.send(data)
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
        conn.send(b"." + CRLF)
    finally:
        if collecting:
            gc.enable()
        settle()  # even if the dot could not be written: the database connection must not keep a reply unread
    try:
        code, reply = conn.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        # The server read the dot: it may have accepted the message before the reply was lost.
        raise HandoverInDoubt(f"no reply after the final dot: {exc!r}") from exc
    if code != 250:
        conn.rset()
        raise smtplib.SMTPDataError(code, reply)


def _drop(backend: SMTPBackend) -> None:
    """Close the socket mid-DATA without QUIT: the server discards the unterminated message.

    ``backend.close()`` would send QUIT, which inside DATA is just another line
    of the message, and then wait ``EMAIL_TIMEOUT`` for a reply that never comes.
    """
    try:
        backend.connection.close()
    finally:
        backend.connection = None
