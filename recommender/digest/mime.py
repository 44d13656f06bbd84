"""The digest's email object: Django's ``EmailMultiAlternatives`` with a C quoted-printable encoder.

A digest's HTML has lines longer than SMTP's 998-byte limit (inlined styles,
abstracts), so Django encodes both parts as quoted-printable, with the
standard library's pure-Python ``email.quoprimime`` walking all ~90 KB one
character at a time: that was the largest single cost of sending a digest
(~3.5 ms of ~14 ms). ``binascii.b2a_qp`` is the C implementation of the same
RFC 2045 encoding; the parts are still ``text/plain`` and ``text/html``,
utf-8, quoted-printable, and decode to the same text (tested in
tests/bench/test_fast_paths.py). Only ``message()`` (what SMTP sends) uses it;
ESP backends that read ``body``/``alternatives`` see an ordinary message.
"""

from __future__ import annotations

import binascii
from email import charset as email_charset
from email.generator import NLCRE, BytesGenerator
from io import BytesIO

from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart


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


class _FastBytesGenerator(BytesGenerator):
    """``BytesGenerator`` writing a part's lines in one call instead of two per 76-byte line (same bytes)."""

    def _write_lines(self, lines):
        if lines:
            self.write(NLCRE.sub(self._NL, lines))


class _DigestMIMEMultipart(SafeMIMEMultipart):
    def as_bytes(self, unixfrom=False, linesep="\n"):
        fp = BytesIO()
        _FastBytesGenerator(fp, mangle_from_=False).flatten(self, unixfrom=unixfrom, linesep=linesep)
        return fp.getvalue()


class DigestEmail(EmailMultiAlternatives):
    """An ``EmailMultiAlternatives`` whose MIME parts are quoted-printable encoded in C."""

    def message(self):
        saved = self.encoding
        if saved in (None, "utf-8", "utf8"):
            self.encoding = FAST_UTF8
        try:
            msg = super().message()
        finally:
            self.encoding = saved
        if type(msg) is SafeMIMEMultipart:
            msg.__class__ = _DigestMIMEMultipart  # same object, faster serialisation
        return msg
