"""One email per topic (issue 15 part 2): a reader with several topics who chose it gets an email per topic.

Planned and sent end to end through a real SMTP server, next to a reader with the same topics who did not
choose it. What the readers receive:

- the reader who chose it: one message per topic, the topic named in its subject, each listing only that
  topic's papers, no paper in two of them (a cross-listed paper goes to the topic that ranks it highest);
- the other reader: one message, a section per topic, as before;
- a second tick, and "send now", send nothing more (exactly once per topic email);
- the next day "already sent" holds the papers of both emails, and none of them comes again;
- My digests lists both emails;
- a reader with one topic who chose it gets exactly the email they got before (subject, text and HTML).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recommender.digest import selectors, services
from recommender.digest.context import digest_batch_build, digest_build
from recommender.digest.render import render_digest
from recommender.digest.sections import period_key_for, period_of
from recommender.models import DeliveredPaper, DeliveredSection, DeliveryStatus, DigestDelivery, Paper, Profile
from recommender.subscriptions.topics import topic_create, topic_default, topic_update
from tests.factories import due_now, make_paper, plan_and_send, subscriber

pytestmark = pytest.mark.django_db

TOPICS = (("RL theory", ["cs.LG"]), ("Language models", ["cs.CL"]))


def _reader(email: str, *, per_topic: bool, topics=TOPICS):
    user = subscriber(email, papers_per_email=10)
    (first, first_cats), *others = topics
    topic_update(topic=topic_default(user=user), name=first, categories=first_cats)
    for name, cats in others:
        topic_create(user=user, name=name, categories=cats)
    Profile.objects.filter(user=user).update(email_per_topic=per_topic)
    return user


def _papers(day: dt.date) -> dict[str, set[int]]:
    """Three papers per field announced on ``day``, and two cross-listed in both: category -> ids."""
    made = {"cs.LG": set(), "cs.CL": set()}
    for category in made:
        for i in range(3):
            title = f"A {category} paper, the {['first', 'second', 'third'][i]} of {day:%d %B}"
            made[category].add(make_paper(category=category, title=title, announced_on=day, hf_upvotes=5 - i).pk)
    for i in range(2):
        title = f"A cross-listed paper, the {['first', 'second'][i]} of {day:%d %B}"
        both = make_paper(
            category="cs.LG", categories="cs.LG cs.CL", title=title, announced_on=day, hf_upvotes=9 - i
        ).pk
        made["cs.LG"].add(both)
        made["cs.CL"].add(both)
    return made


def _text(message) -> str:
    [text] = [p.get_content() for p in message.walk() if p.get_content_type() == "text/plain"]
    return text


def _listed(message, titles: dict[int, str]) -> set[int]:
    body = _text(message)
    return {pid for pid, title in titles.items() if title in body}


def _to(messages, user) -> list:
    return [m for m in messages if m["To"] == user.email]


def test_a_reader_who_chose_it_gets_one_email_per_topic_exactly_once(smtp_server):
    now = timezone.now()
    made = _papers(now.date())
    titles = dict(Paper.objects.values_list("pk", "title"))
    chooser = _reader("chooser@example.org", per_topic=True)
    other = _reader("other@example.org", per_topic=False)
    for user in (chooser, other):
        due_now(user, at=now)

    result = plan_and_send(now)
    messages = smtp_server.wait_for(3)
    assert sorted(result.sent) == sorted([chooser.pk, chooser.pk, other.pk])  # a row per email sent

    # The reader who chose it: two messages, each naming its topic and listing only that topic's papers.
    mine = _to(messages, chooser)
    assert len(mine) == 2
    by_topic = {}
    for message in mine:
        [name] = [n for n, _ in TOPICS if message["Subject"].startswith(f"{n} · ")]
        by_topic[name] = _listed(message, titles)
        assert message["List-Unsubscribe"] and message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert by_topic["RL theory"] and by_topic["Language models"]
    assert by_topic["RL theory"] <= made["cs.LG"] and by_topic["Language models"] <= made["cs.CL"]
    assert not by_topic["RL theory"] & by_topic["Language models"]
    assert by_topic["RL theory"] | by_topic["Language models"] == made["cs.LG"] | made["cs.CL"]

    # The other reader: one message, a section per topic, no topic in the subject.
    [theirs] = _to(messages, other)
    assert not any(theirs["Subject"].startswith(f"{n} · ") for n, _ in TOPICS)
    assert re.findall(r"^-- (.+) --\r?$", _text(theirs), flags=re.M) == [n for n, _ in TOPICS]
    assert _listed(theirs, titles) == made["cs.LG"] | made["cs.CL"]

    # Each topic email is its own delivery of the same period; the rows say which topic.
    deliveries = list(DigestDelivery.objects.filter(user=chooser).order_by("pk"))
    period = period_of(deliveries[0].period_key)
    second = topic_default(user=chooser).user.topics.get(name="Language models")
    assert [d.period_key for d in deliveries] == [period, period_key_for(period, second.pk)]
    assert all(d.status == DeliveryStatus.SENT for d in deliveries)
    for delivery in deliveries:
        topics = set(DeliveredPaper.objects.filter(delivery=delivery, section="papers").values_list("topic", flat=True))
        assert len(topics) == 1

    # Exactly once: another tick, and "send now", send nothing more.
    assert plan_and_send(now).sent == []
    services.digest_send_now(user=chooser, now=now)
    assert DigestDelivery.objects.filter(user=chooser).count() == 2
    assert len(smtp_server.messages) == 3

    # My digests lists both emails, by their subjects, both sent.
    client = Client()
    client.force_login(chooser)
    page = client.get(reverse("web:my_digests")).content.decode()
    for delivery in deliveries:
        assert reverse("web:my_digest", args=[delivery.pk]) in page
        assert client.get(reverse("web:my_digest", args=[delivery.pk])).status_code == 200
    assert page.count("state-sent") == 2
    # Periods in words: the topic email's row names its topic, never the "~t42" of its exactly-once key.
    assert f"{period} · Language models" in page and "~t" not in page

    # The next day: "already sent" holds both emails' papers; none of them is sent again.
    sent = set(
        DeliveredPaper.objects.filter(user=chooser, section=DeliveredSection.PAPERS).values_list("paper_id", flat=True)
    )
    assert sent == by_topic["RL theory"] | by_topic["Language models"]
    assert selectors.papers_already_sent(user_ids=[chooser.pk])[chooser.pk] >= sent
    tomorrow = now + dt.timedelta(days=1)
    fresh = _papers(tomorrow.date())
    Paper.objects.filter(pk__in=sent).update(trending_score=9.0)  # the community's favourites: Trending wants them
    titles = dict(Paper.objects.values_list("pk", "title"))
    smtp_server.messages.clear()
    due_now(chooser, at=tomorrow)
    plan_and_send(tomorrow)
    again = smtp_server.wait_for(2)
    listed = set().union(*(_listed(m, titles) for m in again))
    assert listed and listed <= fresh["cs.LG"] | fresh["cs.CL"]
    assert not listed & sent


def test_a_topic_with_nothing_new_gets_no_email(smtp_server):
    now = timezone.now()
    made = _papers(now.date())
    chooser = _reader("quiet@example.org", per_topic=True, topics=(*TOPICS, ("Vision", ["cs.CV"])))
    due_now(chooser, at=now)
    plan_and_send(now)
    messages = smtp_server.wait_for(2)
    assert len(messages) == 2  # cs.CV announced nothing: no third email, no delivery for it
    assert not any(m["Subject"].startswith("Vision · ") for m in messages)
    assert DigestDelivery.objects.filter(user=chooser).count() == 2
    assert made


def test_a_single_topic_reader_gets_exactly_the_email_of_before(smtp_server, papers_today):
    now = timezone.now()
    user = subscriber("single@example.org")
    batch = digest_batch_build(user_ids=[user.pk], now=now)
    before = render_digest(digest_build(user=user, now=now, batch=batch, inert_links=True).context)
    batch.profiles[user.pk].email_per_topic = True
    batch.memo.clear()
    after = render_digest(digest_build(user=user, now=now, batch=batch, inert_links=True).context)
    assert (after.subject, after.text, after.html) == (before.subject, before.text, before.html)

    Profile.objects.filter(user=user).update(email_per_topic=True)
    due_now(user, at=now)
    plan_and_send(now)
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == before.subject
    assert DigestDelivery.objects.filter(user=user).count() == 1


def test_the_choice_is_on_the_preferences_page_and_saved():
    user = _reader("prefs@example.org", per_topic=False)
    client = Client()
    client.force_login(user)
    page = client.get(reverse("web:preferences")).content.decode()
    assert 'name="email_per_topic"' in page and "One email per topic" in page
    assert "a separate email for each topic" in page
    data = {
        "frequency": "daily",
        "weekday": "0",
        "send_time": "08:00",
        "time_zone": "UTC",
        "papers_per_email": "10",
        "language": "en",
        "email_per_topic": "on",
    }
    client.post(reverse("web:preferences"), data)
    assert Profile.objects.get(user=user).email_per_topic is True
    [box] = re.findall(
        r'<input[^>]*name="email_per_topic"[^>]*>', client.get(reverse("web:preferences")).content.decode()
    )
    assert "checked" in box
    data.pop("email_per_topic")
    client.post(reverse("web:preferences"), data)
    assert Profile.objects.get(user=user).email_per_topic is False


def test_the_watermark_is_the_newest_day_of_all_the_topic_emails(smtp_server):
    """The last email sent may hold older papers than another of that morning: the next digest starts after both."""
    now = timezone.now()
    today, yesterday = now.date(), now.date() - dt.timedelta(days=1)
    for day, category in ((today, "cs.LG"), (yesterday, "cs.CL")):
        make_paper(category=category, title=f"A {category} paper of {day:%d %B}", announced_on=day)
    user = _reader("marks@example.org", per_topic=True)
    due_now(user, at=now)
    plan_and_send(now)
    smtp_server.wait_for(2)
    profile = Profile.objects.get(user=user)
    assert selectors.watermarks(user_ids=[user.pk], profiles={user.pk: profile}, now=now) == {user.pk: today}
