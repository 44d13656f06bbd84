"""The SMTP hand-over when recording it fails: the message is abandoned at once and the server keeps nothing.

``send_with_handover`` sends the body, records the hand-over in the database,
then sends the final dot. If the record step refuses (our claim was taken
over) or raises (the database went away), the session must be dropped
without a QUIT: inside DATA a QUIT is just another line of the message, so
the client would wait for a reply that never comes (``EMAIL_TIMEOUT``).
"""

from __future__ import annotations

import time

import pytest
from django.core.mail import EmailMessage, get_connection
from django.db import OperationalError

from recommender.digest.handover import HandoverAborted, send_with_handover

pytestmark = pytest.mark.django_db


def _message() -> EmailMessage:
    return EmailMessage(subject="Digest", body="hello\n.\nstill the body", to=["reader@example.org"])


def _raise():
    raise OperationalError("database unreachable")


@pytest.mark.parametrize(
    "record, raised",
    [(lambda: False, HandoverAborted), (_raise, OperationalError)],
    ids=["claim-taken-over", "database-unreachable"],
)
def test_a_failed_record_abandons_the_message_fast_and_the_server_keeps_nothing(smtp_server, settings, record, raised):
    settings.EMAIL_TIMEOUT = 8
    backend = get_connection()
    backend.open()
    started = time.monotonic()
    with pytest.raises(raised):
        send_with_handover(backend, _message(), record=record)
    assert time.monotonic() - started < 2.0, "waited for a reply inside DATA"
    assert backend.connection is None  # the next message opens a fresh session
    backend.close()  # harmless afterwards
    time.sleep(0.3)
    assert smtp_server.messages == []
    # The same backend works again for the next message.
    backend.open()
    send_with_handover(backend, _message(), record=lambda: True)
    backend.close()
    (message,) = smtp_server.wait_for(1)
    assert "still the body" in message.get_content()
