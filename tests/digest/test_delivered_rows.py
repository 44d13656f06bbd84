"""A digest's papers live in its plan rows (``DeliveredPaper``) only: no JSON copy, and every reader uses the rows.

Planned and sent end to end through a real SMTP server, then read back by everything that shows or checks what
a digest held: "already sent", the subscriber's preview and My digests, the email's own click and feedback links,
``outcomes.delivery_as_sent`` and the admin's list, detail page and "view email".
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recommender.digest import outcomes, selectors, services
from recommender.models import DeliveredPaper, DeliveredSection, DeliveryStatus, DigestDelivery, Interaction, Paper
from tests.factories import due_now, make_paper, subscriber

pytestmark = pytest.mark.django_db

LEGACY_LISTS = {"papers", "trending", "reasons"}


def _html_part(message) -> str:
    [html] = [p.get_content() for p in message.iter_parts() if p.get_content_type() == "text/html"]
    return html


def _rows(delivery) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {DeliveredSection.PAPERS: [], DeliveredSection.TRENDING: []}
    for section, pid in (
        DeliveredPaper.objects.filter(delivery=delivery).order_by("section", "rank").values_list("section", "paper_id")
    ):
        rows[section].append(pid)
    return rows


def test_a_sent_digest_has_no_json_copy_and_every_reader_shows_its_rows(smtp_server, papers_today, trending_old):
    user = subscriber("rows@example.org")
    now = timezone.now()
    due_now(user, at=now)
    assert services.digest_send_batch(user_ids=services.digest_plan(now=now), now=now).sent == [user.pk]
    [message] = smtp_server.wait_for(1)
    delivery = DigestDelivery.objects.get(user=user)
    assert delivery.status == DeliveryStatus.SENT
    rows = _rows(delivery)
    listed = rows[DeliveredSection.PAPERS] + rows[DeliveredSection.TRENDING]
    assert rows[DeliveredSection.PAPERS] and rows[DeliveredSection.TRENDING]
    titles = dict(Paper.objects.filter(pk__in=listed).values_list("pk", "title"))
    unlisted = make_paper(category="cs.LG", title="A paper this digest never listed")

    # No JSON copy: neither the model nor its table holds the lists any more.
    assert not LEGACY_LISTS & {f.name for f in DigestDelivery._meta.get_fields()}
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "recommender_digestdelivery")}
    assert not LEGACY_LISTS & columns

    # The email itself, and "already sent" (the next digest's exclusions).
    html = _html_part(message)
    assert all(title in html for title in titles.values())
    assert selectors.papers_already_sent(user_ids=[user.pk]) == {user.pk: set(listed)}

    # The email's per-delivery links: every listed paper's link works, a paper it never listed is refused.
    clicks = {int(pid): url for url, pid in re.findall(r'href="([^"]*/d/c/[^/"]+/(\d+)/[a-z]+/)"', html)}
    votes = {int(pid): url for url, pid in re.findall(r'href="([^"]*/d/f/[^/"]+/(\d+)/thumbs_up/)"', html)}
    assert set(clicks) == set(listed) and set(rows[DeliveredSection.PAPERS]) <= set(votes)
    reader = Client()
    for url in clicks.values():
        assert reader.get(_site_path(url)).status_code == 302
    assert Interaction.objects.filter(user=user, kind="click").count() == len(listed)
    foreign = _site_path(clicks[listed[0]]).replace(f"/{listed[0]}/", f"/{unlisted.pk}/")
    assert reader.get(foreign).status_code == 404
    assert reader.post(_site_path(next(iter(votes.values())))).status_code == 200

    # The digest read back as it was sent, by the code behind My digests.
    content = outcomes.delivery_as_sent(delivery=delivery)
    assert (content.paper_ids, content.trending_ids) == (rows[DeliveredSection.PAPERS], rows[DeliveredSection.TRENDING])

    # What the subscriber sees: the preview of this period, My digests and the digest opened from there.
    reader.force_login(user)
    for url in (reverse("digest:preview"), reverse("web:my_digest", args=[delivery.pk])):
        page = reader.get(url)
        assert page.status_code == 200, url
        assert all(title in page.content.decode() for title in titles.values()), url
    assert reverse("web:my_digest", args=[delivery.pk]) in reader.get(reverse("web:my_digests")).content.decode()

    # What the operator sees: the paper count in the list, the titles on the detail page and in "view email".
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("op", "op@lab.example", "pw-op-12345"))
    listing = staff.get(reverse("admin:recommender_digestdelivery_changelist")).content.decode()
    assert re.search(rf'<td class="field-paper_count">{len(rows[DeliveredSection.PAPERS])}</td>', listing)
    for name in ("admin:recommender_digestdelivery_change", "admin:recommender_digestdelivery_email"):
        page = staff.get(reverse(name, args=[delivery.pk])).content.decode()
        assert all(title in page for title in titles.values()), name
        assert unlisted.title not in page


def _site(url: str) -> str:
    return re.match(r"https?://[^/]+", url).group(0) if re.match(r"https?://", url) else ""


def _site_path(url: str) -> str:
    return url.removeprefix(_site(url))
