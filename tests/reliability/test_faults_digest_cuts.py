"""Connections cut at chosen points of the SMTP transaction: only a message whose dot was sent is ever in doubt.

A real aiosmtpd server behind ``FaultProxy`` (a real TCP proxy on loopback)
that cuts the connection before DATA, at body offsets, just before the
final dot, or right after it (the server has the message, its reply is
lost). Invariant: every digest is delivered exactly once in the end (after
the retries the documented policy makes), except a message whose dot had
reached the wire before the cut, which is recorded ``in-doubt`` and never
resent. A server that hangs up after every dot, or refuses every DATA,
trips the circuit breaker instead of burning the whole batch.
"""

from __future__ import annotations

import collections
import contextlib
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from recommender.digest import services
from recommender.digest.handover import HandoverInDoubt, send_with_handover
from recommender.models import DeliveryStatus, DigestDelivery
from tests.conftest import wait_until

from .conftest import bulk_subscribers
from .fault_proxy import Cut, FaultProxy

pytestmark = pytest.mark.django_db

PRE_DOT = [Cut("before-data"), Cut("body", 1000), Cut("body", 3000), Cut("body", 12000), Cut("before-dot")]


@pytest.fixture
def proxy_factory(smtp_server, settings):
    """Start a ``FaultProxy`` in front of the test SMTP server and point Django's SMTP backend at it."""
    started: list[FaultProxy] = []

    def make(**kwargs) -> FaultProxy:
        proxy = FaultProxy(smtp_server.port, **kwargs)
        settings.EMAIL_PORT = proxy.port
        started.append(proxy)
        return proxy

    settings.EMAIL_TIMEOUT = 5
    yield make
    for proxy in started:
        proxy.stop()


def _message() -> EmailMultiAlternatives:
    html = "<html><body>" + "".join(f"<p>paragraph {i} " + "x" * 200 + "</p>\n" for i in range(100)) + "</body></html>"
    message = EmailMultiAlternatives(subject="Digest", body="hello\n.\nstill the body", to=["reader@example.org"])
    message.attach_alternative(html, "text/html")
    return message


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("cut", PRE_DOT, ids=str)
def test_a_cut_before_the_dot_is_a_transient_error_and_the_server_keeps_nothing(proxy_factory, smtp_server, cut, reset):
    """The record step waits for the cut: the hang-up has reached the client before it would send the dot."""
    proxy = proxy_factory(cuts={1: cut}, reset=reset)
    backend = get_connection()
    backend.open()
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the point is which kind it is
        send_with_handover(backend, _message(), record=lambda: proxy.wait_for_cut() or True)
    assert not isinstance(raised.value, HandoverInDoubt), raised.value
    assert services.error_is_transient(raised.value), raised.value
    assert [(e.cut, e.dot_seen) for e in proxy.events] == [(cut, False)]
    time.sleep(0.2)
    assert smtp_server.messages == []
    backend.close()
    backend.open()  # the retry goes through
    send_with_handover(backend, _message(), record=lambda: True)
    backend.close()
    assert len(smtp_server.wait_for(1)) == 1


def test_a_cut_after_the_dot_is_in_doubt_and_the_server_has_it(proxy_factory, smtp_server):
    proxy = proxy_factory(cuts={1: Cut("after-dot")})
    backend = get_connection()
    backend.open()
    with pytest.raises(HandoverInDoubt):
        send_with_handover(backend, _message(), record=lambda: True)
    assert [e.cut.kind for e in proxy.events] == ["after-dot"]
    assert len(smtp_server.wait_for(1)) == 1


def _emails(user_ids) -> dict[int, str]:
    return dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "email"))


@contextlib.contextmanager
def _cuts_land_during_the_handover(proxy: FaultProxy):
    """Hold the hand-over's database step until the proxy's planned cut has happened (see ``wait_for_planned_cut``)."""

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("UPDATE") and "message_id = " in sql:
            proxy.wait_for_planned_cut()
        return result

    with connection.execute_wrapper(wrapper):
        yield


def _send_until_settled(user_ids: list[int], *, rounds: int = 6) -> list[services.BatchResult]:
    """What the task does: send the batch, and send again while some digests are to be retried."""
    results = [services.digest_send_batch(user_ids=user_ids, now=timezone.now())]
    while results[-1].retry and len(results) < rounds:
        results.append(services.digest_send_batch(user_ids=results[-1].retry, now=timezone.now()))
    return results


def _check_exactly_once_or_in_doubt(smtp_server, proxy: FaultProxy, users: list[int]) -> collections.Counter:
    """Each subscriber: exactly one message at the server, or in doubt *only* if the dot was sent before the cut."""
    time.sleep(0.3)
    received = collections.Counter(m["To"] for m in smtp_server.messages)
    emails = _emails(users)
    dot_sent = {e.rcpt for e in proxy.events if e.dot_seen}
    rows = {row.user_id: row for row in DigestDelivery.objects.filter(user_id__in=users)}
    for user_id, email in emails.items():
        row = rows[user_id]
        assert received[email] <= 1, f"{email} got {received[email]} messages"
        if row.status == DeliveryStatus.SENT:
            assert received[email] == 1, f"{email} marked sent, nothing at the server"
            continue
        assert row.status == DeliveryStatus.FAILED and row.error.startswith("in-doubt"), (email, row.status, row.error)
        assert email in dot_sent, f"{email} in doubt though no dot reached the wire before a cut: {row.error}"
    return collections.Counter(row.status for row in rows.values())


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_every_cut_point_in_a_batch_delivers_exactly_once_or_is_in_doubt_after_the_dot(
    proxy_factory, smtp_server, fresh_papers, settings, reset
):
    """Six kinds of cut in one batch, each between two healthy messages (so the breaker stays closed)."""
    settings.PAPERBOY = {**settings.PAPERBOY, "DIGEST_BREAKER_FAILURES": 3}
    kinds = [*PRE_DOT, Cut("after-dot")]
    proxy = proxy_factory(cuts={2 * i + 1: cut for i, cut in enumerate(kinds)}, reset=reset)
    users = bulk_subscribers(2 * len(kinds), prefix="cut")
    services.digest_plan(now=timezone.now())
    with _cuts_land_during_the_handover(proxy):
        results = _send_until_settled(users)
    statuses = _check_exactly_once_or_in_doubt(smtp_server, proxy, users)
    assert len(proxy.events) == len(kinds), proxy.events
    assert statuses[DeliveryStatus.FAILED] <= 1 + sum(e.dot_seen and e.cut.kind != "after-dot" for e in proxy.events)
    after_dot = next(e for e in proxy.events if e.cut.kind == "after-dot")
    assert after_dot.dot_seen
    assert len(results) >= 2, "nothing was retried"
    body_cut = [e for e in proxy.events if e.cut.kind == "body"]
    assert all(e.forwarded == e.cut.offset for e in body_cut), body_cut  # the offsets really fell inside the bodies
    print(f"cuts {[str(e.cut) + ('*' if e.dot_seen else '') for e in proxy.events]}: {dict(statuses)}")


def test_a_server_hanging_up_after_every_dot_trips_the_breaker_after_n_in_doubt(
    proxy_factory, smtp_server, fresh_papers, settings, admin_client
):
    settings.PAPERBOY = {**settings.PAPERBOY, "DIGEST_BREAKER_FAILURES": 3}
    proxy = proxy_factory(every=Cut("after-dot"))
    users = bulk_subscribers(8, prefix="hang")
    services.digest_plan(now=timezone.now())
    result = services.digest_send_batch(user_ids=users, now=timezone.now())
    rows = list(DigestDelivery.objects.filter(user_id__in=users).order_by("pk"))
    in_doubt = [r for r in rows if r.status == DeliveryStatus.FAILED]
    assert len(in_doubt) == 3 and all(r.error.startswith("in-doubt") for r in in_doubt), [r.error for r in rows]
    assert len(smtp_server.wait_for(3)) == 3  # the server has them: never resent
    rest = [r for r in rows if r.status != DeliveryStatus.FAILED]
    assert len(rest) == 5 and all(r.status == DeliveryStatus.PENDING for r in rest)
    assert all(r.error.startswith("circuit breaker") for r in rest), [r.error for r in rest]
    assert all(r.attempts == 0 for r in rest)  # never tried: the untried claims were handed back
    assert sorted(result.retry) == sorted(r.user_id for r in rest) and result.breaker
    listing = admin_client.get(reverse("admin:recommender_digestdelivery_changelist"), {"status__exact": "pending"})
    assert listing.status_code == 200 and listing.content.decode().count("circuit breaker") >= 5  # the admin says so
    proxy.heal()
    _send_until_settled(result.retry)
    time.sleep(0.3)
    received = collections.Counter(m["To"] for m in smtp_server.messages)
    assert set(received.values()) == {1} and len(received) == 8


def test_connection_failures_trip_the_breaker_and_leave_the_rest_claimable(
    proxy_factory, smtp_server, fresh_papers, settings
):
    settings.PAPERBOY = {**settings.PAPERBOY, "DIGEST_BREAKER_FAILURES": 3}
    proxy = proxy_factory(every=Cut("before-data"))
    users = bulk_subscribers(7, prefix="refuse")
    services.digest_plan(now=timezone.now())
    result = services.digest_send_batch(user_ids=users, now=timezone.now())
    assert len(proxy.events) == 3  # three attempts, then the batch stopped
    rows = list(DigestDelivery.objects.filter(user_id__in=users))
    assert all(r.status == DeliveryStatus.PENDING for r in rows)
    assert sum(r.attempts == 1 and r.error.startswith("transient") for r in rows) == 3
    assert sum(r.attempts == 0 and r.error.startswith("circuit breaker") for r in rows) == 4
    assert sorted(result.retry) == sorted(users)
    proxy.heal()
    _send_until_settled(result.retry)
    time.sleep(0.3)
    received = collections.Counter(m["To"] for m in smtp_server.messages)
    assert set(received.values()) == {1} and len(received) == 7
    assert set(DigestDelivery.objects.filter(user_id__in=users).values_list("status", flat=True)) == {"sent"}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_batch_stopped_by_the_breaker_is_retried_by_the_task_and_delivered_once(
    celery_worker, proxy_factory, smtp_server, fresh_papers, settings
):
    """A real worker: three connections cut before DATA open the breaker; the task's backoff retry delivers all."""
    from recommender.digest import tasks

    settings.PAPERBOY = {**settings.PAPERBOY, "DIGEST_BREAKER_FAILURES": 3}
    proxy = proxy_factory(cuts={n: Cut("before-data") for n in (1, 2, 3)})
    users = bulk_subscribers(6, prefix="tripped")
    tasks.digest_tick.delay()
    wait_until(
        lambda: DigestDelivery.objects.filter(user_id__in=users, status=DeliveryStatus.SENT).count() == 6,
        timeout=60,
        what="every digest sent after the breaker's retry",
    )
    time.sleep(0.5)
    received = collections.Counter(m["To"] for m in smtp_server.messages)
    assert set(received.values()) == {1} and len(received) == 6
    assert len(proxy.events) == 3
    rows = DigestDelivery.objects.filter(user_id__in=users)
    assert sorted(r.attempts for r in rows) == [1, 1, 1, 2, 2, 2]  # the three cut ones were tried twice
