"""Write side of the digest: plan who is due, claim a delivery, send a batch, mark the outcome.

Exactly once per subscriber and period
--------------------------------------
1. ``digest_plan`` (the beat tick) creates one ``DigestDelivery`` row per
   (user, period) for every subscriber due (the unique key makes a second
   tick a no-op) and moves their ``next_digest_at`` to the next moment, in
   one transaction; then ``planning.deliveries_plan`` ranks them in bulk and
   stores each selection as ``DeliveredPaper`` rows (``planned_at`` set).
2. ``digest_send_batch`` (no ranking: it reads the rows) claims each row with a conditional UPDATE
   (pending -> sending, ``claimed_at`` = now): only one worker can win it.
3. It records the deterministic ``Message-ID`` (``message_id`` set =
   "handed over") at the commit point of the transfer: over SMTP after the
   whole body is transmitted and before the terminating dot (``handover``),
   so a worker killed earlier leaves the server an unterminated DATA it
   discards. Then it marks the row "sent" and commits, before the next one.
4. A row stuck in "sending" after the lease (its worker died) is
   reconciled by the tick: without ``message_id`` it never reached the mail
   server and is simply claimed again; with ``message_id`` it is "in doubt"
   (the server may have accepted it before the worker died) and is *not*
   resent: we choose at-most-once for that single in-flight message and mark
   it failed with an ``in-doubt`` error an operator can see in the admin.
5. Only "dot sent, no reply" is in doubt: a hang-up, reset or write error
   seen before the dot (the socket is checked right before it) and every 4xx
   release the claim for a retry. After ``DIGEST_BREAKER_FAILURES``
   consecutive connection failures or in-doubt results the batch stops and
   its untried rows wait for the retry (``CircuitBreaker``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import select
import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import get_connection
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from ..models import DeliveryStatus, DigestDelivery, Profile
from ..subscriptions.schedule import period_key
from ..subscriptions.services import profiles_reschedule_due
from . import notes as empty_day
from . import planning, selectors
from .context import (
    DigestBatch,
    DigestContent,
    Selection,
    absolute,
    digest_batch_planned,
    digest_build,
    digest_build_planned,
    digest_compose,
)
from .handover import HandoverAborted, HandoverInDoubt, HandoverNotSent, send_with_handover
from .mime import DigestEmail, RawDigestMessage
from .render import render_digest
from .tokens import unsubscribe_token

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
IN_DOUBT = selectors.IN_DOUBT
BREAKER = selectors.BREAKER


# The digest's settings have their one default in digest_site/settings.py (and its row in README's table):
# read without a second fallback here, so the code can never disagree with what the settings say.


def batch_size() -> int:
    """Subscribers per send task (``DIGEST_BATCH_SIZE``)."""
    return int(settings.PAPERBOY["DIGEST_BATCH_SIZE"])


def breaker_limit() -> int:
    """Consecutive connection failures or in-doubt results after which a batch stops (the circuit breaker)."""
    return max(1, int(settings.PAPERBOY["DIGEST_BREAKER_FAILURES"]))


def naive_render() -> bool:
    """Premailer on every email (benchmarks only: ``PAPERBOY_DIGEST_NAIVE_RENDER=1``)."""
    return bool(settings.PAPERBOY["DIGEST_NAIVE_RENDER"])


# --- phase 1: the tick --------------------------------------------------------------


def digest_plan(*, now: dt.datetime, on_planned: Callable[[list[int]], None] | None = None) -> list[int]:
    """The tick: open deliveries for everyone due, plan every unplanned one; return user ids to send to.

    ``on_planned(user_ids)`` is called after each planned chunk commits (the tick enqueues their sends
    there); the returned list also holds the users whose planned deliveries a lost task left behind.
    """
    deliveries_reconcile()
    deliveries_open_due(now=now)
    result = planning.deliveries_plan(now=now, on_planned=on_planned)
    return sorted(set(result.planned) | set(_users_stranded()))


def _users_stranded() -> list[int]:
    """Users whose planned deliveries a lost send task left behind (to enqueue again), once each."""
    stranded = (
        selectors.deliveries_stranded(now=timezone.now())
        .filter(planned_at__isnull=False)
        .values_list("user_id", flat=True)
    )
    return sorted(set(stranded))


def digest_open(*, now: dt.datetime) -> tuple[list[list[int]], list[int]]:
    """The tick's first half, for the fanned-out plan: reconcile, open everyone due, and return the unplanned
    deliveries in plan chunks (``planning.plan_chunk_size()`` each) and the users whose planned deliveries a
    lost task left behind (to enqueue again).

    Each chunk is planned by its own task (``tasks.digest_plan_chunk``), so the plan worker's processes rank
    chunks side by side; a chunk whose task is lost stays unplanned and the next tick plans it.
    """
    deliveries_reconcile()
    deliveries_open_due(now=now)
    ids = list(selectors.deliveries_unplanned(now=now).values_list("pk", flat=True))
    return batches(ids, planning.plan_chunk_size()), _users_stranded()


def deliveries_open_due(*, now: dt.datetime) -> list[int]:
    """Create one pending delivery per subscriber due at ``now`` and reschedule them, in one transaction."""
    with transaction.atomic():
        due = list(
            selectors.subscribers_due(now=now).select_for_update(skip_locked=True, of=("self",)).select_related("user")
        )
        DigestDelivery.objects.bulk_create(
            [DigestDelivery(user_id=p.user_id, period_key=period_key(p, at=p.next_digest_at)) for p in due],
            ignore_conflicts=True,
        )
        profiles_reschedule_due(profiles=due, now=now)
    return [p.user_id for p in due]


def batches(user_ids: list[int], size: int | None = None) -> list[list[int]]:
    size = size or batch_size()
    return [user_ids[i : i + size] for i in range(0, len(user_ids), size)]


def deliveries_reconcile() -> int:
    """Mark deliveries whose worker died after handing the message to the server as failed (in doubt)."""
    return selectors.deliveries_in_doubt(now=timezone.now()).update(
        status=DeliveryStatus.FAILED,
        error=(
            f"{IN_DOUBT}: the worker stopped after handing this message to the mail server and before "
            "recording the answer; not resent, to never send twice (search the server logs for the Message-ID)"
        ),
        modified_at=timezone.now(),
    )


def delivery_open_for_now(*, user, now: dt.datetime) -> DigestDelivery:
    """The user's delivery for the period containing ``now`` (created pending if missing)."""
    profile = Profile.objects.get(user=user)
    delivery, _ = DigestDelivery.objects.get_or_create(user=user, period_key=period_key(profile, at=now))
    return delivery


# --- phase 2: claim, send, mark -------------------------------------------------------


def _mine(delivery_id: int, claimed_at: dt.datetime):
    # Fencing: every later write checks the claim is still ours.
    return DigestDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING, claimed_at=claimed_at)


def delivery_skip(*, delivery_id: int, claimed_at: dt.datetime, reason: str) -> bool:
    return bool(
        _mine(delivery_id, claimed_at).update(
            status=DeliveryStatus.SKIPPED, skip_reason=reason[:255], modified_at=timezone.now()
        )
    )


def delivery_mark_sent(*, delivery_id: int, claimed_at: dt.datetime) -> bool:
    now = timezone.now()
    return bool(
        _mine(delivery_id, claimed_at).update(status=DeliveryStatus.SENT, sent_at=now, error="", modified_at=now)
    )


def delivery_release(*, delivery_id: int, claimed_at: dt.datetime, error: str, final: bool) -> bool:
    """After a transient error (the server did not take the message): back to pending, or failed if out of tries."""
    row = _mine(delivery_id, claimed_at)
    if final:
        return bool(row.update(status=DeliveryStatus.FAILED, error=error[:2000], modified_at=timezone.now()))
    return bool(
        row.update(status=DeliveryStatus.PENDING, message_id="", error=error[:2000], modified_at=timezone.now())
    )


def delivery_fail(*, delivery_id: int, claimed_at: dt.datetime, error: str) -> bool:
    return bool(
        _mine(delivery_id, claimed_at).update(
            status=DeliveryStatus.FAILED, error=error[:2000], modified_at=timezone.now()
        )
    )


# --- the message ----------------------------------------------------------------------


def _mail_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rsplit("@", 1)[-1] if "@" in address else "paperboy.localhost"


def _message_id(pk: int, period: str, attempts: int) -> str:
    """A Message-ID fixed per delivery and attempt: recorded before sending, it names the in-flight message.

    The attempt is part of it so that a deliberate resend (an operator's
    "resend today's digest") is not dropped by receivers as a duplicate.
    """
    ident = f"digest:{pk}:{attempts}"
    mac = hmac.new(settings.SECRET_KEY.encode(), ident.encode(), hashlib.sha256).hexdigest()[:12]
    return f"<digest.{pk}.{period}.{attempts}.{mac}@{_mail_domain()}>"


def _list_headers(*, message_id: str, unsubscribe: str) -> dict[str, str]:
    domain = _mail_domain()
    return {
        "Message-ID": message_id,
        "List-Id": f"Paperboy digest <digest.{domain}>",
        "List-Unsubscribe": f"<{unsubscribe}>, <mailto:unsubscribe@{domain}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    }


def digest_raw_message(*, content: DigestContent, message_id: str) -> RawDigestMessage:
    """The send path's message: fragments-rendered, MIME bytes built directly (same headers as ``digest_message``)."""
    rendered = render_digest(content.context, encode=True)
    return RawDigestMessage(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        text_qp=rendered.text_qp,
        html_qp=rendered.html_qp,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[content.user.email],
        headers=_list_headers(message_id=message_id, unsubscribe=content.context["unsubscribe_url"]),
    )


def digest_message(*, content: DigestContent, message_id: str, connection=None, naive: bool = False):
    """Build the multipart/alternative message (text + inlined HTML) with list headers."""
    rendered = render_digest(content.context, naive=naive)
    unsubscribe = content.context.get("unsubscribe_url") or absolute(
        reverse("digest:unsubscribe", args=[unsubscribe_token.make_token(u=content.user.pk)])
    )
    headers = _list_headers(message_id=message_id, unsubscribe=unsubscribe)
    message = DigestEmail(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[content.user.email],
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


# --- errors -------------------------------------------------------------------------------


def error_is_transient(exc: BaseException) -> bool:
    """Whether retrying later may succeed: 4xx replies, disconnects, refused connections, ESP 5xx/429."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= c < 500 for c in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected | HandoverNotSent | ConnectionError | socket.timeout):
        return True
    status = getattr(exc, "status_code", None)  # anymail.exceptions.AnymailAPIError
    if status is not None:
        return status == 429 or status >= 500
    if exc.__class__.__name__ == "AnymailRecipientsRefused":
        return False
    return isinstance(exc, OSError)


def error_is_connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the mail server (or the way to it) is unwell, not that it refused one message.

    Disconnects, resets, refused connections, timeouts and 421 ("service not
    available, closing"); a 451 or a 550 for one recipient comes from a server
    that works. These, and in-doubt results, feed the circuit breaker.
    """
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError)


# --- the batch ------------------------------------------------------------------------------


def _no_delay(smtp) -> None:
    """Turn Nagle's algorithm off on an SMTP session's socket (``smtplib.SMTP.sock``), when there is one.

    The hand-over writes the body, then, after the database record, the 3-byte final dot: a second small
    write before any reply. With Nagle the dot waits until the server ACKs the body, which a server that
    has nothing to say delays (Linux: up to 40 ms): measured 43.8 ms p50 from hand-over to mark, one
    message per ~44 ms per send process. The bytes and their order are unchanged.
    """
    sock = getattr(smtp, "sock", None)
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BatchConnection:
    """One mail connection for a whole batch: opened before the first message, reopened only after an error.

    Django's backends close a connection they opened themselves inside
    ``send_messages``; opening it explicitly keeps one session for the batch.
    """

    def __init__(self, backend):
        self.backend = backend
        self.is_open = False

    def send(self, message, *, record: Callable[[], bool], settle: Callable[[], None] | None = None) -> None:
        """Send ``message``, calling ``record()`` at the commit point and ``settle()`` after it (see ``handover``)."""
        if not self.is_open:
            self.backend.open()
            self.is_open = True
            _no_delay(getattr(self.backend, "connection", None))
        message.connection = self.backend
        send_with_handover(self.backend, message, record=record, settle=settle)

    def close(self) -> None:
        self.is_open = False
        self.backend.close()


@dataclass
class BatchResult:
    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)  # user ids to try again later
    breaker: str = ""  # why the batch stopped early (the circuit breaker), if it did


class CircuitBreaker:
    """Counts consecutive connection failures and in-doubt results; opens at ``limit``.

    A server that hangs up after every dot would otherwise turn a whole batch
    in doubt, and one that is down would be hit once per subscriber; the
    batch stops instead and is retried later (the task's backoff, the tick).
    Any other outcome (sent, a 4xx/5xx reply, a skip) closes the streak.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.streak = 0
        self.last = ""

    def record(self, trouble: str) -> bool:
        """``trouble``: what went wrong ("" for a healthy outcome); True once the breaker is open."""
        self.streak = self.streak + 1 if trouble else 0
        self.last = trouble or self.last
        return self.streak >= self.limit

    def reason(self) -> str:
        return (
            f"{BREAKER}: the batch stopped after {self.streak} consecutive connection failures or in-doubt results "
            f"(last: {self.last[:300]}); retried later, not yet tried"
        )


CLAIM_CHUNK = 50  # rows claimed per UPDATE: few statements, and a claim's lease starts close to its send


def _sql_time(value: dt.datetime):
    return db_connection.ops.adapt_datetimefield_value(value)


def deliveries_claim(*, delivery_ids: list[int]) -> tuple[dt.datetime, dict[int, tuple[int, int, str]]]:
    """Claim every claimable row of ``delivery_ids`` in one conditional UPDATE … RETURNING.

    Claimable: pending, or sending with an expired lease and no Message-ID;
    the UPDATE is atomic, so only one worker wins each row.
    Returns the claim time and ``{id: (user_id, attempts, period_key)}`` of the rows won.
    """
    claimed_at = timezone.now()
    stale = claimed_at - dt.timedelta(seconds=selectors.lease_seconds())
    table = DigestDelivery._meta.db_table
    marks = ", ".join(["%s"] * len(delivery_ids))
    sql = (
        f"UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1, modified_at = %s "  # noqa: S608
        f"WHERE id IN ({marks}) AND (status = %s OR (status = %s AND claimed_at <= %s AND message_id = '')) "
        "RETURNING id, user_id, attempts, period_key"
    )
    at = _sql_time(claimed_at)
    params = [DeliveryStatus.SENDING, at, at, *delivery_ids, DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [*params, _sql_time(stale)])
        won = {row[0]: (row[1], row[2], row[3]) for row in cursor.fetchall()}
    return claimed_at, won


def _commit_can_follow_the_dot() -> bool:
    """Whether the hand-over's COMMIT can be sent without waiting for its reply.

    On PostgreSQL the fenced UPDATE runs in an explicit transaction and we wait
    for its result (the fence: is the row still ours?), then write COMMIT to
    the database socket and the final dot to the SMTP socket back to back,
    and only then read both replies. A worker killed after the COMMIT bytes
    left has recorded the hand-over (the server reads them before it notices
    the closed socket) and is a few instructions from the dot; waiting for
    the COMMIT's reply first would leave the message in doubt for a whole
    round trip plus however long a loaded machine takes to wake the worker
    (measured: one SIGKILL fan-out in four lost a digest that way).
    Inside an atomic block (tests, callers holding a transaction) the
    statement simply runs in it.
    """
    return db_connection.vendor == "postgresql" and not db_connection.in_atomic_block


def _queue_commit() -> None:
    # Raw COMMIT on psycopg's documented low-level ``Connection.pgconn`` (libpq's send_query): Django and
    # psycopg's high-level API only commit synchronously (send, then wait), and the reply must be read after the dot.
    pgconn = db_connection.connection.pgconn
    pgconn.send_query(b"COMMIT")
    while pgconn.flush():  # psycopg keeps libpq non-blocking: wait until the bytes are out
        select.select([], [pgconn.socket], [], 1.0)


def _read_commit() -> None:
    from psycopg import pq

    pgconn = db_connection.connection.pgconn
    statuses = []
    while (result := pgconn.get_result()) is not None:
        statuses.append(result.status)
    if statuses != [pq.ExecStatus.COMMAND_OK]:
        raise DatabaseError(f"the hand-over's COMMIT failed after the message was sent: {pgconn.error_message!r}")


class _HandOver:
    """Records each message's hand-over: one fenced UPDATE per email (raw SQL, as it runs once per message).

    The row must still be ``sending`` under our claim; the claim time is
    renewed here: rows are claimed a chunk at a time, so a row's original
    claim can be older than the lease by the time its message is handed
    over, and the tick's reconciliation must never take a message in flight
    for one whose worker died (it only reconciles rows whose claim is older
    than the lease). What the message lists is not copied onto the row: the
    plan rows (``DeliveredPaper``) the message was composed from are the record.
    """

    def __init__(self):
        self.commit_pending = False
        table = DigestDelivery._meta.db_table
        self.sql = (
            f"UPDATE {table} SET "  # noqa: S608 - the model's table name; values are parameters
            "message_id = %s, subject = %s, language = %s, "
            "claimed_at = %s, modified_at = %s "
            "WHERE id = %s AND status = %s AND claimed_at = %s "
            "RETURNING id"
        )

    def record(
        self, *, delivery_id: int, claimed_at: dt.datetime, content: DigestContent, message_id: str, subject: str
    ) -> dt.datetime | None:
        """Record the hand-over (fenced on ``claimed_at``); return the renewed claim time, or None if not ours."""
        moment = timezone.now()
        now = _sql_time(moment)
        params = [
            *(message_id, subject[:300], content.language, now, now),
            *(delivery_id, DeliveryStatus.SENDING, _sql_time(claimed_at)),
        ]
        deferred = _commit_can_follow_the_dot()
        with db_connection.cursor() as cursor:
            if deferred:
                cursor.execute("BEGIN")
            try:
                cursor.execute(self.sql, params)
                ours = cursor.fetchone() is not None
            except BaseException:
                if deferred:
                    with contextlib.suppress(Exception):
                        cursor.execute("ROLLBACK")
                raise
            if deferred:
                if ours:
                    # The row is ours and locked; its COMMIT goes out now, and the dot right after it.
                    _queue_commit()
                    self.commit_pending = True
                else:
                    cursor.execute("COMMIT")
        return moment if ours else None

    def settle(self) -> None:
        """Read back the hand-over's COMMIT, queued by ``record`` before the dot (PostgreSQL only)."""
        if self.commit_pending:
            self.commit_pending = False
            _read_commit()


def digest_send_batch(
    *, user_ids: list[int], now: dt.datetime | None = None, final_attempt: bool = False, dry_run: bool = False
) -> BatchResult:
    """Send the open deliveries of ``user_ids`` over one mail connection.

    Rows are claimed ``CLAIM_CHUNK`` at a time (one UPDATE … RETURNING each);
    each message's hand-over is one UPDATE committed before the final dot
    (``_HandOver``), and its mark as sent one more after the server's 250.
    """
    now = now or timezone.now()
    result = BatchResult()
    open_rows = list(selectors.deliveries_open(user_ids=user_ids).values_list("pk", "user_id"))
    if not open_rows:
        return result
    batch = digest_batch_planned(deliveries=dict(open_rows), now=now)
    notes = dict(  # deliveries planned as a "nothing new" note (empty_day.py): one query for the batch
        DigestDelivery.objects.filter(
            pk__in=[pk for pk, _ in open_rows], skip_reason__in=empty_day.NOTE_REASONS
        ).values_list("pk", "skip_reason")
    )
    connection = BatchConnection(get_connection())
    handover = _HandOver()
    breaker = CircuitBreaker(breaker_limit())
    claimed: dict[int, tuple[int, int, str]] = {}
    claimed_at = None
    done = 0  # rows of open_rows already claimed (tried or taken by someone else)
    try:
        for start in range(0, len(open_rows), CLAIM_CHUNK):
            chunk = [pk for pk, _ in open_rows[start : start + CLAIM_CHUNK]]
            claimed_at, claimed = deliveries_claim(delivery_ids=chunk)
            for delivery_id in chunk:
                done += 1
                row = claimed.pop(delivery_id, None)
                if row is None:
                    continue  # someone else has it, or it is no longer open
                user_id, attempts, period = row
                trouble = _send_one(
                    delivery_id=delivery_id,
                    user_id=user_id,
                    attempts=attempts,
                    period=period,
                    claimed_at=claimed_at,
                    batch=batch,
                    connection=connection,
                    handover=handover,
                    result=result,
                    final_attempt=final_attempt,
                    note=notes.get(delivery_id, ""),
                )
                if breaker.record(trouble):
                    result.breaker = breaker.reason()
                    break
            if result.breaker:
                break
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the outcome
            logger.debug("closing the mail connection failed", exc_info=True)
        _hand_back_untried(claimed, claimed_at, reason=result.breaker)
    if result.breaker:
        _defer_untried(open_rows[done:], result, reason=result.breaker)
    return result


def _hand_back_untried(claimed: dict[int, tuple[int, int, str]], claimed_at, *, reason: str) -> None:
    """Rows claimed and never tried (an exception or the breaker left the loop): pending again at once.

    Their attempt is given back: the server never saw them.
    """
    if not claimed:
        return
    fields = {"status": DeliveryStatus.PENDING, "attempts": F("attempts") - 1, "modified_at": timezone.now()}
    if reason:
        fields["error"] = reason
    DigestDelivery.objects.filter(
        pk__in=list(claimed), status=DeliveryStatus.SENDING, claimed_at=claimed_at, message_id=""
    ).update(**fields)


def _defer_untried(rows: list[tuple[int, int]], result: BatchResult, *, reason: str) -> None:
    """After the breaker opened: say why on every row of the batch left untried, and retry them later."""
    logger.warning("digest batch stopped early: %s (%d deliveries left for later)", reason, len(rows))
    pks = [pk for pk, _ in rows]
    DigestDelivery.objects.filter(pk__in=pks, status=DeliveryStatus.PENDING).update(
        error=reason, modified_at=timezone.now()
    )
    result.retry.extend(uid for _, uid in rows)


def _send_one(
    *,
    delivery_id: int,
    user_id: int,
    attempts: int,
    period: str,
    claimed_at: dt.datetime,
    batch: DigestBatch,
    connection,
    handover: _HandOver,
    result: BatchResult,
    final_attempt: bool,
    note: str = "",
) -> str:
    """Send one delivery and record its outcome; return what went wrong with the server ("" if nothing did).

    ``note``: the delivery is the "nothing new" note for this empty-day reason, not a digest.
    """
    user = batch.users.get(user_id)
    profile = batch.profiles.get(user_id)
    if user is None or profile is None or not profile.is_sendable:
        delivery_skip(delivery_id=delivery_id, claimed_at=claimed_at, reason=planning.SKIP_NOT_SENDABLE)
        result.skipped.append(user_id)
        return ""
    try:
        message_id = _message_id(delivery_id, period, attempts)
        content, message = _content_and_message(
            delivery_id=delivery_id,
            user=user,
            period=period,
            message_id=message_id,
            batch=batch,
            note=note,
            backend=connection.backend,
        )
        if message is None:
            delivery_skip(delivery_id=delivery_id, claimed_at=claimed_at, reason=content.skip_reason)
            result.skipped.append(user_id)
            return ""
    except Exception as exc:  # a bug for one subscriber must not stop the batch
        logger.exception("building digest %s failed", delivery_id)
        delivery_fail(delivery_id=delivery_id, claimed_at=claimed_at, error=f"build: {exc!r}")
        result.failed.append(user_id)
        return ""

    claim = [claimed_at]  # renewed by the hand-over; every later write is fenced on the renewed value

    def record() -> bool:
        renewed = handover.record(
            delivery_id=delivery_id,
            claimed_at=claimed_at,
            content=content,
            message_id=message_id,
            subject=message.subject,
        )
        if renewed is not None:
            claim[0] = renewed
        return renewed is not None

    try:
        connection.send(message, record=record, settle=handover.settle)
    except HandoverAborted:
        return ""  # our lease was taken over; the other worker owns it now
    except HandoverInDoubt as exc:
        # Not a transient error: the server may hold the message. At most once, as for a crash here.
        with contextlib.suppress(Exception):
            connection.close()
        return _in_doubt(exc, delivery_id=delivery_id, user_id=user_id, claimed_at=claim[0], result=result)
    except Exception as exc:
        # The session may be in any state: start the next message on a fresh one.
        with contextlib.suppress(Exception):
            connection.close()
        final = final_attempt or attempts >= MAX_ATTEMPTS
        return _send_failed(
            exc, delivery_id=delivery_id, user_id=user_id, claimed_at=claim[0], result=result, final=final
        )
    if not delivery_mark_sent(delivery_id=delivery_id, claimed_at=claim[0]):
        logger.warning("digest %s: sent, but the row was no longer ours to mark sent", delivery_id)
    result.sent.append(user_id)
    return ""


def _content_and_message(
    *, delivery_id: int, user, period: str, message_id: str, batch: DigestBatch, note: str, backend
) -> tuple[DigestContent, object | None]:
    """The planned digest (or the "nothing new" note) and its message; no message when it is to be skipped."""
    profile = batch.profiles.get(user.pk)
    if note:
        unsubscribe = absolute(reverse("digest:unsubscribe", args=[unsubscribe_token.make_token(u=user.pk)]))
        reason = empty_day.note_reason(skip_reason=note, period_key=period, profile=profile)
        headers = _list_headers(message_id=message_id, unsubscribe=unsubscribe)
        message = empty_day.note_message(user=user, profile=profile, reason=reason, headers=headers)
        return DigestContent(user=user, profile=profile, subject=message.subject), message
    selection = batch.selections.get(delivery_id) or Selection(skip_reason=planning.SKIP_NOTHING_LEFT)
    content = digest_compose(user=user, now=batch.now, batch=batch, selection=selection, delivery_id=delivery_id)
    if content.skip_reason:
        return content, None
    return content, _message_for(content=content, message_id=message_id, backend=backend)


def _message_for(*, content: DigestContent, message_id: str, backend):
    if naive_render():  # the benchmark's comparison: premailer per email, Django's MIME objects
        return digest_message(content=content, message_id=message_id, connection=backend, naive=True)
    return digest_raw_message(content=content, message_id=message_id)


def _in_doubt(exc: HandoverInDoubt, *, delivery_id: int, user_id: int, claimed_at: dt.datetime, result) -> str:
    """The dot was sent and no reply came: failed ``in-doubt``, never resent; a trouble for the breaker."""
    logger.error("digest %s: %s", delivery_id, exc)
    delivery_fail(
        delivery_id=delivery_id,
        claimed_at=claimed_at,
        error=f"{IN_DOUBT}: {exc}; not resent, to never send twice (search the server logs for the Message-ID)",
    )
    result.failed.append(user_id)
    return f"in doubt: {exc}"


def _send_failed(
    exc: Exception, *, delivery_id: int, user_id: int, claimed_at: dt.datetime, result: BatchResult, final: bool
) -> str:
    """Record an error that left the server without the message; return it if it is a connection failure.

    Everything raised before the dot was written (a write error, EOF or reset
    seen before it, a 4xx at any step) and a 4xx/5xx answer to the dot mean
    the server does not have the message: transient ones release the claim
    (the hand-over's Message-ID cleared) for the task's retry, permanent ones
    fail the row.
    """
    if error_is_transient(exc):
        logger.warning("digest %s: transient error %r%s", delivery_id, exc, " (giving up)" if final else "")
        delivery_release(delivery_id=delivery_id, claimed_at=claimed_at, error=f"transient: {exc!r}", final=final)
        (result.failed if final else result.retry).append(user_id)
    else:
        logger.error("digest %s: permanent error %r", delivery_id, exc)
        delivery_fail(delivery_id=delivery_id, claimed_at=claimed_at, error=f"permanent: {exc!r}")
        result.failed.append(user_id)
    return repr(exc) if error_is_connection_failure(exc) else ""


def _planned_delivery_for_now(*, user, now: dt.datetime) -> DigestDelivery | None:
    profile = Profile.objects.filter(user=user).first()
    if profile is None:
        return None
    return (
        DigestDelivery.objects.filter(
            user=user, period_key=period_key(profile, at=now), planned_at__isnull=False, delivered__isnull=False
        )
        .select_related("user")
        .first()
    )


def digest_send_now(*, user, now: dt.datetime | None = None) -> tuple[DigestDelivery, BatchResult]:
    """Send ``user``'s digest for the current period right away (never twice for one period)."""
    now = now or timezone.now()
    delivery = delivery_open_for_now(user=user, now=now)
    if delivery.planned_at is None:
        planning.deliveries_plan(now=now, delivery_ids=[delivery.pk], interactive=True)
        delivery.refresh_from_db()
    result = (
        digest_send_batch(user_ids=[user.pk], now=now) if delivery.status == DeliveryStatus.PENDING else BatchResult()
    )
    delivery.refresh_from_db()
    return delivery, result


def digest_preview(*, user, now: dt.datetime | None = None, naive: bool = False, inert_links: bool = False):
    """Return ``(content, rendered)`` for a preview; nothing is recorded (``inert_links``: see ``digest_build``).

    When the current period's digest is planned, the preview is that digest, from its rows (what was or will
    be sent); before that, it is ranked now.
    """
    now = now or timezone.now()
    planned = _planned_delivery_for_now(user=user, now=now)
    if planned is not None:
        content = digest_build_planned(delivery=planned, inert_links=inert_links)
    else:
        content = digest_build(user=user, now=now, inert_links=inert_links)
    rendered = render_digest(content.context, naive=naive) if not content.skip_reason else None
    return content, rendered
