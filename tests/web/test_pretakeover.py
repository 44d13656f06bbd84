"""Account pre-takeover: confirming an address never hands over a password its owner did not choose.

End to end with the test client and a real SMTP server (every message is
read from what the server received): the attacker signs up with the
victim's address and his own password, then the victim uses the site the
ways a reader does (subscribe box, "email me a sign-in code", the signup
form) and confirms. In no order may the attacker's password open the
victim's account afterwards, and the victim always gets in by email.
"""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from recommender.models import Profile

User = get_user_model()
VICTIM = "victim@example.org"
ATTACKER_PASSWORD = "attacker chose this 1234"
VICTIM_PASSWORD = "the victim's own secret 5678"

pytestmark = pytest.mark.django_db


def body(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def last_mail_to(smtp, address: str, count: int):
    messages = smtp.wait_for(count)
    mine = [m for m in messages if address in m["To"]]
    assert mine, f"no message to {address}"
    return mine[-1]


def confirm_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", body(message)).group(1)


def signed_in(client) -> bool:
    return client.get(reverse("web:preferences")).status_code == 200


def password_login(email: str, password: str) -> Client:
    client = Client()
    client.post(reverse("account_login"), {"login": email, "password": password})
    return client


def signup(client: Client, email: str, password: str):
    return client.post(reverse("account_signup"), {"email": email, "password1": password, "password2": password})


def code_login(smtp, email: str, sent_before: int) -> Client:
    """Sign in with allauth's emailed code, reading the code from the real message."""
    client = Client()
    response = client.post(reverse("account_request_login_code"), {"email": email})
    assert response.status_code == 302, response.content.decode()[:500]
    message = last_mail_to(smtp, email, sent_before + 1)
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4}|[A-Z0-9]{6,})\s*$", body(message), re.MULTILINE).group(1)
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def attacker_signs_up(smtp) -> Client:
    attacker = Client()
    assert signup(attacker, VICTIM, ATTACKER_PASSWORD).status_code == 302
    smtp.wait_for(1)
    assert not signed_in(attacker)  # mandatory verification: nobody is in yet
    return attacker


def assert_attacker_locked_out(attacker: Client):
    user = User.objects.get(email__iexact=VICTIM)
    assert not user.check_password(ATTACKER_PASSWORD)
    assert not signed_in(password_login(VICTIM, ATTACKER_PASSWORD))
    assert not signed_in(attacker)  # the attacker's own session (if any) holds nothing either


def test_attacker_signup_then_victim_subscribes_and_confirms(smtp_server):
    attacker = attacker_signs_up(smtp_server)
    victim = Client()
    victim.post(reverse("web:subscribe"), {"email": VICTIM})
    link = confirm_path(last_mail_to(smtp_server, VICTIM, 2))
    response = victim.post(link)
    assert response.status_code == 302
    assert EmailAddress.objects.get(email__iexact=VICTIM).verified
    assert Profile.objects.get(user__email__iexact=VICTIM).confirmed_at is not None
    assert_attacker_locked_out(attacker)
    assert signed_in(victim)  # confirmed in the browser that subscribed: signed in, no password needed
    assert signed_in(code_login(smtp_server, VICTIM, len(smtp_server.messages)))  # and from any other browser


def test_attacker_signup_then_victim_confirms_from_another_browser(smtp_server):
    attacker = attacker_signs_up(smtp_server)
    Client().post(reverse("web:subscribe"), {"email": VICTIM})
    phone = Client()
    response = phone.post(confirm_path(last_mail_to(smtp_server, VICTIM, 2)))
    assert response.status_code == 302
    assert_attacker_locked_out(attacker)
    page = phone.get(response["Location"], follow=True).content.decode()
    assert "sign-in code" in page.lower()  # the confirmed reader is told how to get in without a password
    assert signed_in(code_login(smtp_server, VICTIM, len(smtp_server.messages)))


def test_attacker_signup_then_victim_signs_in_by_code(smtp_server):
    attacker = attacker_signs_up(smtp_server)
    victim = code_login(smtp_server, VICTIM, 1)
    assert signed_in(victim)
    assert EmailAddress.objects.get(email__iexact=VICTIM).verified
    assert_attacker_locked_out(attacker)


def test_victim_subscribes_first_then_attacker_signs_up(smtp_server):
    victim = Client()
    victim.post(reverse("web:subscribe"), {"email": VICTIM})
    smtp_server.wait_for(1)
    attacker = Client()
    assert signup(attacker, VICTIM, ATTACKER_PASSWORD).status_code == 302  # looks the same as a new signup
    smtp_server.wait_for(2)
    assert User.objects.filter(email__iexact=VICTIM).count() == 1
    assert not User.objects.get(email__iexact=VICTIM).has_usable_password()
    victim.post(confirm_path(smtp_server.messages[0]))
    assert_attacker_locked_out(attacker)
    assert signed_in(victim)


def test_subscriber_who_signs_up_later_is_told_to_sign_in_by_code(smtp_server):
    """The allauth signup path with an existing (unverified) subscribe-box account."""
    Client().post(reverse("web:subscribe"), {"email": VICTIM})
    smtp_server.wait_for(1)
    assert signup(Client(), VICTIM, VICTIM_PASSWORD).status_code == 302
    notice = body(last_mail_to(smtp_server, VICTIM, 2))
    assert "sign-in code" in notice.lower() and reverse("account_request_login_code") in notice
    assert not User.objects.get(email__iexact=VICTIM).has_usable_password()  # the form set no password
    reader = code_login(smtp_server, VICTIM, 2)
    assert signed_in(reader) and EmailAddress.objects.get(email__iexact=VICTIM).verified


def test_an_honest_signup_keeps_its_password(smtp_server):
    me = Client()
    assert signup(me, VICTIM, VICTIM_PASSWORD).status_code == 302
    me.post(confirm_path(last_mail_to(smtp_server, VICTIM, 1)))
    assert signed_in(me)
    assert signed_in(password_login(VICTIM, VICTIM_PASSWORD))
    # A signup confirmed from the phone (another browser) keeps it too: only the subscribe box and code
    # sign-in, which prove the mailbox for someone who may not have chosen the password, discard it.
    other = "second@example.org"
    assert signup(Client(), other, VICTIM_PASSWORD).status_code == 302
    Client().post(confirm_path(last_mail_to(smtp_server, other, 2)))
    assert signed_in(password_login(other, VICTIM_PASSWORD))


def test_discarding_the_password_ends_its_sessions(smtp_server):
    """An unverified account someone is signed in to (made before mandatory verification, or by hand)."""
    early = User.objects.create_user("early", VICTIM, ATTACKER_PASSWORD)
    EmailAddress.objects.create(user=early, email=VICTIM, primary=True, verified=False)
    attacker = Client()
    attacker.force_login(early)
    assert signed_in(attacker)
    Client().post(reverse("web:subscribe"), {"email": VICTIM})
    smtp_server.wait_for(1)
    assert not signed_in(attacker)
    assert not User.objects.get(pk=early.pk).has_usable_password()


def test_the_sign_in_page_offers_an_emailed_code(db):
    page = Client().get(reverse("account_login")).content.decode()
    assert reverse("account_request_login_code") in page and "sign-in code" in page.lower()
