"""Account emails speak as Paperboy: no allauth boilerplate, no site "example.com", no internal usernames."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from recommender.models import Suppression
from recommender.subscriptions.services import profile_suppress

pytestmark = pytest.mark.django_db


def test_every_account_email_names_paperboy_and_no_username(member, password):
    Client().post(reverse("web:subscribe"), {"email": "new@example.org"})  # confirmation
    Client().post(reverse("web:subscribe"), {"email": member.email})  # already exists
    Client().post(reverse("account_signup"), {"email": "s@example.org", "password1": password, "password2": password})
    Client().post(reverse("account_reset_password"), {"email": member.email})  # reset
    Client().post(reverse("account_request_login_code"), {"email": member.email})  # code
    Client().post(reverse("account_request_login_code"), {"email": "nobody@example.org"})  # unknown account
    assert len(mail.outbox) == 6
    # Internal usernames (u_<hash> for subscribe-box readers; allauth derives the others from the address).
    usernames = [u for u in get_user_model().objects.values_list("username", flat=True) if u.startswith("u_")]
    assert usernames
    for message in mail.outbox:
        text = message.subject + "\n" + message.body
        assert "Paperboy" in text, message.subject
        assert "example.com" not in text and "Hello from" not in text, message.subject
        assert not [name for name in usernames if name in text], message.subject


class _Links(HTMLParser):
    """The href of every <a> in an HTML body (entities decoded, as a mail client follows them)."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href", ""))


def _send_every_account_email(member, password) -> int:
    Client().post(reverse("web:subscribe"), {"email": "new@example.org"})  # confirmation
    Client().post(reverse("web:subscribe"), {"email": member.email})  # already exists
    Client().post(reverse("account_signup"), {"email": "s@example.org", "password1": password, "password2": password})
    Client().post(reverse("account_reset_password"), {"email": member.email})  # reset
    Client().post(reverse("account_request_login_code"), {"email": member.email})  # code
    Client().post(reverse("account_request_login_code"), {"email": "nobody@example.org"})  # unknown account
    return 6


def test_every_account_email_arrives_as_text_and_html_with_the_same_link(member, password, smtp_server, settings):
    """As received over SMTP: multipart text + HTML, the HTML's button goes where the text's link goes.

    The HTML's only other links are the site's home page (masthead and footer); a
    sign-in code appears in both parts. No example.com, no internal username.
    """
    received = smtp_server.wait_for(_send_every_account_email(member, password))
    usernames = [u for u in get_user_model().objects.values_list("username", flat=True) if u.startswith("u_")]
    assert usernames
    for message in received:
        _assert_text_and_html_agree(message, usernames, settings.SITE_URL)


def _assert_text_and_html_agree(message, usernames: list[str], site_url: str) -> None:
    subject = message["Subject"]
    home = site_url + "/"
    assert message.get_content_type() == "multipart/alternative", subject
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    parser = _Links()
    parser.feed(html)
    text_links = re.findall(r"https?://\S+", text)
    assert [h for h in parser.hrefs if h != home] == text_links, subject
    assert home in parser.hrefs, subject
    for code in re.findall(r"^([A-Z0-9]{6,})$", text, re.M):  # the sign-in code
        assert code in html, subject
    for part in (subject, text, html):
        assert "Paperboy" in part, subject
        assert "example.com" not in part, subject
        assert not [name for name in usernames if name in part], subject
    assert site_url in html, subject


def test_resume_link_email_arrives_as_text_and_html(member_client, member, smtp_server, settings):
    """The "resume my digest" mail (ours, not allauth's) follows the same house style."""
    member.username = "u_26022c85a1"  # as the subscribe box names its accounts
    member.save()
    profile_suppress(user=member, reason=Suppression.BOUNCED, detail="550 mailbox unavailable")
    member_client.post(reverse("web:resume"))
    (message,) = smtp_server.wait_for(1)
    assert "/account/resume/" in message.get_body(("plain",)).get_content()
    _assert_text_and_html_agree(message, [member.username], settings.SITE_URL)
