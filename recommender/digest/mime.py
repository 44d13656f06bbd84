"""The digest's email object: Django's ``EmailMultiAlternatives`` with a C quoted-printable encoder.

A digest's HTML has lines longer than SMTP's 998-byte limit (inlined styles,
abstracts), so Django encodes both parts as quoted-printable, with the
standard library's pure-Python ``email.quoprimime`` walking all ~90 KB one
character at a time: that was the largest single cost of sending a digest
(~3.5 ms of ~14 ms). ``binascii.b2a_qp`` is the C implementation of the same
RFC 2045 encoding; the parts are still ``text/plain`` and ``text/html``,
utf-8, quoted-printable, and decode to the same text (tested in
tests/digest/test_mime.py). Only ``message()`` (what SMTP sends) uses it;
ESP backends that read ``body``/``alternatives`` see an ordinary message.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from email import charset as email_charset
from email.utils import formatdate

from django.core.mail import EmailMultiAlternatives


class _FastQuotedPrintableUTF8(email_charset.Charset):
    def __init__(self):
        super().__init__("utf-8")
        self.body_encoding = email_charset.QP

    def __str__(self) -> str:  # Content-Type's charset parameter and Django's header encoding
        return "utf-8"

    def body_encode(self, string):
        if not string:
            return string
        if isinstance(string, str):
            try:
                string = string.encode("ascii", "surrogateescape")
            except UnicodeError:
                string = string.encode("utf-8")
        return binascii.b2a_qp(string, istext=True).decode("ascii")


FAST_UTF8 = _FastQuotedPrintableUTF8()


class DigestEmail(EmailMultiAlternatives):
    """An ``EmailMultiAlternatives`` whose MIME parts are quoted-printable encoded in C.

    Serialised by Django's own ``as_bytes`` (the public ``BytesGenerator``): it
    only serves backends that are not SMTP and the benchmark's naive path; the
    SMTP send path builds its bytes in ``RawDigestMessage``.
    """

    def message(self):
        saved = self.encoding
        if saved in (None, "utf-8", "utf8"):
            self.encoding = FAST_UTF8
        try:
            msg = super().message()
        finally:
            self.encoding = saved
        return msg


# --- the SMTP send path: the message's bytes, built directly ------------------------------------


_QP_LITERAL = re.compile(r"[!-<>-~]*")  # printable ASCII but "=" and space: quoted-printable as is


def qp_piece(text: str) -> bytes:
    """``text`` quoted-printable (utf-8, CRLF), its last line kept under 76 bytes so a soft break can follow.

    Pieces are joined with soft line breaks (``=`` CRLF), which decode to
    nothing: the concatenation decodes to the concatenated text, and each
    piece is encoded once however many emails carry it.
    """
    if not text:
        return b""
    if len(text) <= 75 and _QP_LITERAL.fullmatch(text):
        return text.encode("ascii")  # nothing to encode (short links, ranks, plain words)
    # b2a_qp ends every line as the text's first line ends: normalise to CRLF whatever came in
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    last = encoded.rfind(b"\n") + 1
    if len(encoded) - last > 75:  # move the last character (or =XX escape) to a line of its own
        cut = len(encoded) - (3 if encoded[-3:-2] == b"=" else 1)
        encoded = encoded[:cut] + b"=\r\n" + encoded[cut:]
    return encoded


def qp_encode(text: str) -> bytes:
    """``text`` quoted-printable in one piece, with the CRLF that ends a MIME part's body."""
    return qp_piece(text) + b"\r\n"


def part_body(text: str, qp: bytes | None) -> tuple[str, bytes]:
    """A part's Content-Transfer-Encoding and body: quoted-printable, or base64 when that is smaller.

    Quoted-printable spends 9 bytes on a CJK character and 6 on a Cyrillic one,
    base64 4 and 2.7: a bilingual digest in such a script would be twice the
    size budget (docs/digest.md) in quoted-printable. Latin-script parts stay
    quoted-printable (readable, and assembled from cached pieces).
    """
    qp = qp if qp is not None else qp_encode(text)
    if len(qp) <= len(text) * 4 // 3:  # base64 takes at least 4 bytes per 3 characters: no need to encode
        return "quoted-printable", qp
    raw = text.encode("utf-8")
    raw = (raw.replace(b"\r\n", b"\n") if b"\r" in raw else raw).replace(b"\n", b"\r\n")  # CRLF before base64
    if len(qp) <= len(raw) * 4 // 3 + len(raw) // 57 * 2:  # base64: 4 bytes per 3, a CRLF every 76
        return "quoted-printable", qp
    return "base64", base64.encodebytes(raw).replace(b"\n", b"\r\n")


class RawDigestMessage:
    """A digest as the bytes SMTP sends: ``multipart/alternative`` (text, HTML), quoted-printable or base64.

    What ``DigestEmail(...).message().as_bytes(linesep="\\r\\n")`` gives, minus
    the ``email`` package's object model and generator (~2.4 ms of CPU per
    digest): the headers are encoded with Django's own helpers
    (``forbid_multi_line_headers``: RFC 2047 for a non-ASCII subject or
    display name), the parts with ``binascii.b2a_qp``. Python's email parser
    reads it back to the same headers and parts (tested). ``email_message()``
    gives the equivalent ``DigestEmail`` for backends that are not SMTP.
    """

    encoding = None

    def __init__(
        self,
        *,
        subject: str,
        text: str,
        html: str,
        from_email: str,
        to: list[str],
        headers: dict[str, str],
        text_qp: bytes | None = None,
        html_qp: bytes | None = None,
    ):
        """``text_qp``/``html_qp``: the parts already quoted-printable (``render_digest(encode=True)``)."""
        self.subject, self.text, self.html = subject, text, html
        self.text_qp, self.html_qp = text_qp, html_qp
        self.from_email, self.to, self.extra_headers = from_email, list(to), dict(headers)

    def recipients(self) -> list[str]:
        return list(self.to)

    def email_message(self, connection=None) -> DigestEmail:
        message = DigestEmail(
            subject=self.subject,
            body=self.text,
            from_email=self.from_email,
            to=self.to,
            headers=self.extra_headers,
            connection=connection,
        )
        message.attach_alternative(self.html, "text/html")
        return message

    def as_smtp_bytes(self) -> bytes:
        """The message with CRLF line ends, ready for DATA (not yet dot-stuffed)."""
        from django.conf import settings
        from django.core.mail.message import forbid_multi_line_headers

        boundary = f"==============={secrets.randbelow(10**19):019d}=="  # "=" never starts a QP line
        headers = {
            "Content-Type": f'multipart/alternative; boundary="{boundary}"',
            "MIME-Version": "1.0",
            "Subject": self.subject,
            "From": self.from_email,
            "To": ", ".join(self.to),
            "Date": formatdate(localtime=getattr(settings, "EMAIL_USE_LOCALTIME", False)),
            **self.extra_headers,
        }
        lines = []
        for name, value in headers.items():
            name, value = forbid_multi_line_headers(name, value, "utf-8")
            lines.append(f"{name}: {value}".replace("\r\n", "\n").replace("\n", "\r\n"))  # folded: CRLF only
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        part = f'--{boundary}\r\nContent-Type: text/%s; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
        part += "Content-Transfer-Encoding: %s\r\n\r\n"
        text_cte, text_body = part_body(self.text, self.text_qp)
        html_cte, html_body = part_body(self.html, self.html_qp)
        return b"".join(
            [
                head,
                (part % ("plain", text_cte)).encode("ascii"),
                text_body,
                (part % ("html", html_cte)).encode("ascii"),
                html_body,
                f"--{boundary}--\r\n".encode("ascii"),
            ]
        )
