"""Lists: author search on the JSON list, the category/source/version filters, the dashboard, bounded queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from recommender.interactions.services import interaction_record
from recommender.models import (
    DigestDelivery,
    IngestRun,
    Interaction,
    InteractionKind,
    ModelStatus,
    ModelVersion,
    Profile,
    RunStatus,
)
from tests.factories import make_delivery, make_paper, subscriber

pytestmark = pytest.mark.django_db

PAPERS = "admin:recommender_paper_changelist"


def listed(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_paper_search_by_title_id_and_author(staff_client):
    curie = make_paper(title="Radioactivity revisited", authors=["Marie Skłodowska-Curie", "Pierre Curie"])
    muller = make_paper(title="Graphs again", authors=["Jürgen Müller"])
    other = make_paper(title="Unrelated work", authors=["Someone Else"], arxiv_id="2611.99999")
    url = reverse(PAPERS)
    html = listed(staff_client, url + "?q=sklodowska")
    assert curie.arxiv_id not in html  # no accent folding: the name is spelled with ł
    html = listed(staff_client, url + "?q=Skłodowska")
    assert curie.arxiv_id in html and other.arxiv_id not in html
    html = listed(staff_client, url + "?q=müller")
    assert muller.arxiv_id in html and curie.arxiv_id not in html
    html = listed(staff_client, url + "?q=pierre curie")
    assert curie.arxiv_id in html and muller.arxiv_id not in html
    html = listed(staff_client, url + "?q=radioactivity")
    assert curie.arxiv_id in html and other.arxiv_id not in html
    html = listed(staff_client, url + "?q=2611.99999")
    assert other.arxiv_id in html and curie.arxiv_id not in html


def test_paper_filters_category_source_version_combine_with_search(staff_client):
    lg = make_paper(category="cs.LG", categories="cs.LG stat.ML", authors=["Ada Lovelace"])
    cl = make_paper(category="cs.CL", authors=["Ada Lovelace"], version=3)
    cl.sources = ["arxiv-rss", "hf-daily"]
    cl.save()
    lga = make_paper(category="cs.LGA", authors=["Ada Lovelace"])  # a prefix must not match cs.LG
    url = reverse(PAPERS)
    html = listed(staff_client, url + "?category=cs.LG")
    assert lg.arxiv_id in html and cl.arxiv_id not in html and lga.arxiv_id not in html
    html = listed(staff_client, url + "?category=stat.ML")
    assert lg.arxiv_id in html and cl.arxiv_id not in html
    html = listed(staff_client, url + "?source=hf-daily")
    assert cl.arxiv_id in html and lg.arxiv_id not in html
    html = listed(staff_client, url + "?revised=yes")
    assert cl.arxiv_id in html and lg.arxiv_id not in html
    # The author search keeps the sidebar filter.
    html = listed(staff_client, url + "?category=cs.CL&q=lovelace")
    assert cl.arxiv_id in html and lg.arxiv_id not in html and lga.arxiv_id not in html
    html = listed(staff_client, url + f"?announced_on__gte={timezone.now().date()}")
    assert lg.arxiv_id in html


def test_paper_list_links_to_public_page(staff_client):
    paper = make_paper()
    html = listed(staff_client, reverse(PAPERS))
    assert f"/papers/{paper.arxiv_id}/" in html


def test_subscriber_list_shows_last_digest_ratings_and_suppression(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    bob = subscriber("bob@example.org")
    for paper in papers_today[:3]:
        interaction_record(user=ada, paper=paper, kind="thumbs_up")
    interaction_record(user=ada, paper=papers_today[3], kind="click", source="email")
    DigestDelivery.objects.create(user=ada, period_key="2026-11-20", status="sent")
    DigestDelivery.objects.create(user=ada, period_key="2026-11-21", status="failed", error="550")
    from recommender.subscriptions.services import profile_suppress

    profile_suppress(user=bob, reason="bounced", detail="550 mailbox unavailable")
    url = reverse("admin:recommender_profile_changelist")
    html = listed(staff_client, url)
    assert "2026-11-21" in html and "failed" in html
    assert f'?user__id__exact={ada.pk}">3<' in html  # ratings exclude the click
    assert "Bounced" in html and "550 mailbox unavailable" in html
    html = listed(staff_client, url + "?state=suppressed")
    assert "bob@example.org" in html and "ada@example.org" not in html
    html = listed(staff_client, url + "?last_digest=failed")
    assert "ada@example.org" in html and "bob@example.org" not in html
    html = listed(staff_client, url + "?q=bob@")
    assert "bob@example.org" in html and "ada@example.org" not in html


def test_editing_a_subscriber_reschedules(staff_client):
    ada = subscriber("ada@example.org")
    profile = Profile.objects.get(user=ada)
    before = profile.next_digest_at
    response = staff_client.post(
        reverse("admin:recommender_profile_change", args=[profile.pk]),
        {
            "frequency": "off",
            "weekday": "0",
            "send_time": "08:00",
            "time_zone": "UTC",
            "papers_per_email": "10",
            "language": "en",
            "suppression": "",
            "suppression_reason": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    profile.refresh_from_db()
    assert before is not None and profile.frequency == "off" and profile.next_digest_at is None


def test_dashboard_figures(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    bob = subscriber("bob@example.org")
    from recommender.subscriptions.services import profile_suppress

    profile_suppress(user=bob, reason="complained", detail="spam report")
    today = timezone.now()
    DigestDelivery.objects.create(user=ada, period_key="p1", status="sent", sent_at=today)
    DigestDelivery.objects.create(user=bob, period_key="p1", status="failed", error="boom")
    interaction_record(user=ada, paper=papers_today[0], kind=InteractionKind.CLICK, source="email")
    IngestRun.objects.create(source="hf-daily", status=RunStatus.FAILED, error="HTTP 503 from upstream")
    for i, ndcg in enumerate([0.11, 0.22, 0.33]):
        ModelVersion.objects.create(
            status=ModelStatus.READY, metrics={"ndcg@10": ndcg, "recall@10": ndcg * 2}, is_active=i == 2
        )
    html = listed(staff_client, reverse("admin-dashboard"))
    assert html.count('role="img"') == 3
    assert "spam report" not in html  # counts only
    assert "1 complained" in html
    assert "100%" in html  # one digest sent, its subscriber clicked
    assert "HTTP 503 from upstream" in html  # the failed ingest's error on hover
    assert "v3" in html and "0.33" in html
    assert 'href="/admin/django_celery_beat/periodictask/"' in html
    index = listed(staff_client, reverse("admin:index"))
    assert reverse("admin-dashboard") in index and "Periodic tasks" in index


def test_dashboard_escapes_ingest_errors(staff_client):
    IngestRun.objects.create(source="arxiv-rss", status=RunStatus.FAILED, error='<script>alert("x")</script>')
    html = listed(staff_client, reverse("admin-dashboard"))
    assert "<script>alert" not in html


# --- query counts ------------------------------------------------------------------------------


def _populate(n: int) -> None:
    """n papers, n subscribers with a delivery and interactions, n runs and versions."""
    papers = [make_paper(authors=[f"A{i}", "B"]) for i in range(n)]
    for i in range(n):
        user = subscriber(f"s{n}-{i}@example.org")
        Interaction.objects.create(user=user, paper=papers[i], kind="upvote")
        Interaction.objects.create(user=user, paper=papers[(i + 1) % n], kind="click", source="email")
        make_delivery(user, period_key=f"2026-11-{i % 28 + 1:02d}", papers=[papers[i].pk])
        IngestRun.objects.create(source="arxiv-rss", finished_at=timezone.now() + dt.timedelta(seconds=3))
        ModelVersion.objects.create(status=ModelStatus.READY, artifact=b"x" * 10, artifact_size=10)


LIST_PAGES = [
    "admin:recommender_paper_changelist",
    "admin:recommender_profile_changelist",
    "admin:auth_user_changelist",
    "admin:recommender_interaction_changelist",
    "admin:recommender_digestdelivery_changelist",
    "admin:recommender_ingestrun_changelist",
    "admin:recommender_modelversion_changelist",
]


def _count_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_use_the_same_queries_for_5_and_50_rows(staff_client, django_assert_max_num_queries):
    _populate(5)
    small = {name: _count_queries(staff_client, reverse(name)) for name in LIST_PAGES}
    small["dashboard"] = _count_queries(staff_client, reverse("admin-dashboard"))
    _populate(45)
    for name in LIST_PAGES:
        url = reverse(name)
        with django_assert_max_num_queries(small[name]):
            html = staff_client.get(url).content.decode()
        assert html.count('class="action-select"') >= 50, name  # (+ the operator's own profile and user)
        assert small[name] <= 12, (name, small[name])
    with django_assert_max_num_queries(small["dashboard"]):
        staff_client.get(reverse("admin-dashboard"))
    assert small["dashboard"] <= 20


def test_dashboard_links_lead_to_the_filtered_lists(staff_client, papers_today):
    import re

    ada = subscriber("ada@example.org")
    bob = subscriber("bob@example.org")
    DigestDelivery.objects.create(user=ada, period_key="today", status="failed", error="550 today")
    old = DigestDelivery.objects.create(user=bob, period_key="old", status="failed", error="550 old")
    DigestDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    IngestRun.objects.create(source="hf-daily", status=RunStatus.SUCCEEDED)
    IngestRun.objects.create(source="arxiv-rss", status=RunStatus.FAILED, error="rss broke")
    html = listed(staff_client, reverse("admin-dashboard"))
    hrefs = {h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', html)}
    failed = next(h for h in hrefs if "digestdelivery" in h and "status__exact=failed" in h)
    page = listed(staff_client, failed)
    assert "550 today" in page and "550 old" not in page
    hf = next(h for h in hrefs if "ingestrun" in h and "source__exact=hf-daily" in h)
    page = listed(staff_client, hf)
    assert "rss broke" not in page and "0 of 1 selected" in page
    suppressed = next(h for h in hrefs if "profile" in h and "state=suppressed" in h)
    assert "ada@example.org" not in listed(staff_client, suppressed)
