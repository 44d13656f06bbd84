"""The send path's hand-built MIME gives exactly what Django's ``EmailMultiAlternatives`` gives.

Each optimisation made for docs/performance.md replaces a library call with a
cheaper equivalent; these tests pin the equivalence on real inputs.
"""

from __future__ import annotations

from email import message_from_bytes

from django.core.mail import EmailMultiAlternatives

from recommender.digest.mime import DigestEmail


def test_digest_email_decodes_to_the_same_parts_as_django():
    text = "Plain ☃ text\n" + "long line " * 300 + "\n.leading dot\n"
    html = '<p style="color:#123">Héllo</p>\n' + '<td class=x style="padding:0">a</td>' * 200 + "\n"
    kwargs = {"subject": "Sujet ☃", "body": text, "from_email": "a@example.org", "to": ["b@example.org"]}
    fast, plain = DigestEmail(**kwargs), EmailMultiAlternatives(**kwargs)
    for m in (fast, plain):
        m.attach_alternative(html, "text/html")
    a = message_from_bytes(fast.message().as_bytes(linesep="\r\n"))
    b = message_from_bytes(plain.message().as_bytes(linesep="\r\n"))
    assert a["Subject"] == b["Subject"]
    parts_a = [p for p in a.walk() if not p.is_multipart()]
    parts_b = [p for p in b.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts_a] == ["text/plain", "text/html"]
    for pa, pb in zip(parts_a, parts_b, strict=True):
        assert pa.get_content_type() == pb.get_content_type()
        assert pa["Content-Transfer-Encoding"] == "quoted-printable"
        assert pa.get_payload(decode=True) == pb.get_payload(decode=True)
    raw = fast.message().as_bytes(linesep="\r\n")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_raw_digest_bytes_parse_back_to_the_same_message(settings):
    """The send path's hand-built MIME (pieces joined by soft breaks) reads back like Django's message."""
    from recommender.digest.mime import RawDigestMessage
    from recommender.digest.render import qp_encode, qp_piece

    text = "Plain ☃ text\n" + "long line " * 300 + "\n.leading dot\ntrailing space \n=3D literal\n"
    html = '<p style="color:#123">Héllo</p>\n' + '<td class=x style="padding:0">a</td>' * 200 + "\n.dot"
    pieces = [html[:7], html[7:300], "", "x" * 75, " ", html[300:]]
    html_qp = b"=\r\n".join(qp_piece(p) for p in pieces if p) + b"\r\n"
    headers = {"Message-ID": "<a.1@example.org>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    kwargs = {"subject": "Sujet ☃ " + "long " * 30, "from_email": "Paperboy <a@example.org>", "to": ["b@example.org"]}
    raw = RawDigestMessage(text=text, html="".join(pieces), headers=headers, html_qp=html_qp, **kwargs)
    plain = EmailMultiAlternatives(body=text, headers=headers, **kwargs)
    plain.attach_alternative("".join(pieces), "text/html")
    data = raw.as_smtp_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")  # CRLF only
    a, b = message_from_bytes(data), message_from_bytes(plain.message().as_bytes(linesep="\r\n"))
    from email.header import decode_header, make_header

    def decoded(message, name):
        return str(make_header(decode_header(message[name])))

    for name in ("Subject", "From", "To", "Message-ID", "List-Unsubscribe-Post", "MIME-Version"):
        assert decoded(a, name) == decoded(b, name), name
    assert decoded(a, "Subject") == kwargs["subject"]
    assert a.get_content_type() == "multipart/alternative"
    parts_a = [p for p in a.walk() if not p.is_multipart()]
    parts_b = [p for p in b.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts_a] == ["text/plain", "text/html"]
    for pa, pb in zip(parts_a, parts_b, strict=True):
        assert pa["Content-Transfer-Encoding"] == "quoted-printable" and pa.get_content_charset() == "utf-8"
        assert pa.get_payload(decode=True) == pb.get_payload(decode=True)
    assert parts_a[1].get_payload(decode=True).decode().replace("\r\n", "\n") == "".join(pieces)
    # Encoded lines stay short, soft breaks between pieces included (``b2a_qp`` itself goes to 77 at times).
    body = data.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n") if not line.startswith(b"--")) <= 77
    assert qp_encode("a\n") == b"a\r\n\r\n"


def test_quoted_printable_pieces_end_lines_with_crlf_whatever_the_text_uses():
    # b2a_qp copies the first line's ending to every line: a text with CRLF must not come out as CR CR LF.
    import quopri

    from recommender.digest.mime import qp_piece

    for text in ("caf\u00e9 one\r\ntwo\nthree", "caf\u00e9 one\ntwo\r\nthree"):
        encoded = qp_piece(text)
        assert b"\r\r" not in encoded and b"\n" not in encoded.replace(b"\r\n", b"")
        assert quopri.decodestring(encoded).decode().replace("\r\n", "\n") == text.replace("\r\n", "\n")
