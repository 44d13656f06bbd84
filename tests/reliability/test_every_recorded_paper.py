"""Every paper of every recorded feed, and a few hostile ones, on every page: never a 500, always the right link.

The examples other tests use are papers their authors made up, all with
new-scheme identifiers (``2403.02233``). Real feeds also carry the pre-2007
scheme (``hep-th/9901001``, ``math.GT/0309136``): a slash inside the
identifier. This test ingests every recorded feed in ``../shared/data/feeds``
through the real ingestion services, adds hostile titles and abstracts
(markup, template syntax, format strings, right-to-left text, a 5,000-character
title) under both identifier schemes, and then visits every public page that
lists them, every paper page, the vote endpoint, the personal Atom feed,
For you, the digest preview and the admin pages that show papers. Each must
answer below 500, and every link to a paper must lead to that paper's page.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone

from recommender.ingest.entries import IngestError
from recommender.ingest.services import ingest_run
from recommender.models import Interaction, Paper, Profile, Topic
from recommender.papers import search
from tests.factories import delivered_ids, make_subscriber

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SOURCES = ("arxiv-api", "arxiv-oai", "arxiv-rss", "hf-daily")
ATOM = "{http://www.w3.org/2005/Atom}"
HREF_RE = re.compile(r'href="(/papers/[^"]*)"')
WORD_RE = re.compile(r"[A-Za-z]{5,}")

# Hostile text under both identifier schemes (an RSS "replace" of an old paper carries an old id).
HOSTILE = [
    ("hep-th/9901001", "<script>alert('pb-old')</script> Strings on branes", "An abstract with <b>markup</b>."),
    ("astro-ph/0601001", "Dark energy <svg/onload=alert(1)> surveys", "<svg/onload=alert(1)> in the abstract."),
    ("math.GT/0309136", "Knots {{ request.user }} {% now 'Y' %} and %s %(name)s %d", "Format {0} %s {{ x }}."),
    ("cs/0503051", "\u202eRTL \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627", "\u200f\u05e2\u05d1 text"),
    ("2611.99201", "Long " + "title " * 999, "A paper whose title is five thousand characters long."),
    ("2611.99202", "<img src=x onerror=alert(2)> vision", "<iframe src='//evil.example'></iframe>"),
]


def _hostile_rss(day: dt.date) -> bytes:
    from xml.sax.saxutils import escape

    items = []
    for n, (arxiv_id, title, abstract) in enumerate(HOSTILE):
        kind = "replace" if "/" in arxiv_id else "new"
        description = f"arXiv:{arxiv_id}v{1 + n % 2} Announce Type: {kind} \nAbstract: {abstract}"
        items.append(
            f"<item><title>{escape(title)}</title><link>https://arxiv.org/abs/{arxiv_id}</link>"
            f"<description>{escape(description)}</description><category>cs.LG</category>"
            f"<dc:creator>Ada Lovelace, {escape(title[:40])}</dc:creator></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>'
        f"<pubDate>{day:%a, %d %b %Y} 00:00:00 -0500</pubDate>{''.join(items)}</channel></rss>"
    ).encode()


def _ingest_file(source: str, path: Path) -> None:
    """Ingest one recorded file; only a recorded error document may fail, and only as a source error."""
    kwargs = {"metadata_prefix": "arXiv"} if source == "arxiv-oai" and "arXiv_" in path.name else {}
    try:
        ingest_run(source=source, path=path, refresh_trending=False, **kwargs)
    except IngestError as exc:
        assert path.name.lower().startswith("error"), f"{source}/{path.name} failed to ingest: {exc}"


@pytest.fixture
def archive(shared_data, tmp_path) -> list[Paper]:
    """Every paper of every recorded feed plus the hostile ones, each listed on some day."""
    files = 0
    for source in SOURCES:
        for path in sorted((shared_data / "feeds" / source).iterdir()):
            _ingest_file(source, path)
            files += 1
    assert files >= 15, "the recorded feeds are missing"
    hostile = tmp_path / "hostile.xml"
    hostile.write_bytes(_hostile_rss(timezone.now().date()))
    ingest_run(source="arxiv-rss", path=hostile, refresh_trending=True)
    # Papers known only from the export API or OAI carry no announcement day (docs/reliability.md):
    # give them recent days so that the daily listings and the digest show them too.
    undated = list(Paper.objects.filter(announced_on__isnull=True).order_by("pk").values_list("pk", flat=True))
    today = timezone.now().date()
    for i, pk in enumerate(undated):
        Paper.objects.filter(pk=pk).update(announced_on=today - dt.timedelta(days=i % 3))
    search.semantic_index_reset()
    papers = list(Paper.objects.order_by("pk"))
    old = [p.arxiv_id for p in papers if "/" in p.arxiv_id]
    assert len(old) >= 10 and len(papers) - len(old) >= 100, (len(papers), old)
    for arxiv_id, *_ in HOSTILE:
        assert any(p.arxiv_id == arxiv_id for p in papers), f"hostile paper {arxiv_id} was not ingested"
    return papers


def _ok(response, where: str):
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    return response


def _paper_links(html: str) -> set[str]:
    return {href for href in HREF_RE.findall(html) if not href.endswith("/act/")}


def _assert_links_resolve(html: str, where: str, by_url: dict[str, str]) -> set[str]:
    """Every link to a paper page on ``html`` is the canonical page of a paper we have."""
    links = _paper_links(html)
    for href in links:
        assert href in by_url, f"{where} links to {href!r}, which is no paper's page"
    return {by_url[href] for href in links}


def _paper_urls(papers) -> dict[str, str]:
    return {reverse("web:paper", args=[p.arxiv_id]): p.arxiv_id for p in papers}


def test_the_paper_url_round_trips_for_every_recorded_identifier(archive):
    for paper in archive:
        url = reverse("web:paper", args=[paper.arxiv_id])
        assert url == f"/papers/{paper.arxiv_id}/"
        match = resolve(url)
        assert (match.view_name, match.kwargs["arxiv_id"]) == ("web:paper", paper.arxiv_id)
        act = resolve(reverse("web:act", args=[paper.arxiv_id]))
        assert (act.view_name, act.kwargs["arxiv_id"]) == ("web:act", paper.arxiv_id)


def test_every_listing_and_paper_page_answers_and_links_each_paper(archive):
    client = Client()
    by_url = _paper_urls(archive)
    seen: set[str] = set()
    days = sorted({p.announced_on for p in archive if p.announced_on})
    for day in days:
        for page in range(1, 20):
            response = _ok(client.get("/", {"day": day.isoformat(), "page": page}), f"daily {day} page {page}")
            seen |= _assert_links_resolve(response.content.decode(), f"daily {day}", by_url)
            if f"page={page + 1}" not in response.content.decode():
                break
    dated = {p.arxiv_id for p in archive if p.announced_on}
    assert dated <= seen, f"papers missing from their day's listing: {sorted(dated - seen)[:10]}"

    for page in range(1, 20):
        response = _ok(client.get(reverse("web:trending"), {"page": page}), f"trending page {page}")
        _assert_links_resolve(response.content.decode(), "trending", by_url)
        if f"page={page + 1}" not in response.content.decode():
            break
    for category in sorted({p.primary_category for p in archive if p.primary_category}):
        response = _ok(client.get(reverse("web:trending"), {"category": category}), f"trending {category}")
        _assert_links_resolve(response.content.decode(), f"trending {category}", by_url)

    for paper in archive:
        words = WORD_RE.findall(paper.title)[:3]
        for mode in ("keyword", "blend"):
            where = f"search {words} ({mode}) for {paper.arxiv_id}"
            response = _ok(client.get(reverse("web:search"), {"q": " ".join(words), "mode": mode}), where)
            _assert_links_resolve(response.content.decode(), where, by_url)
        response = _ok(client.get(reverse("web:search"), {"q": paper.arxiv_id}), f"search {paper.arxiv_id!r}")
        _assert_links_resolve(response.content.decode(), f"search {paper.arxiv_id!r}", by_url)
        url = reverse("web:paper", args=[paper.arxiv_id])
        response = client.get(url)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        html = response.content.decode()
        assert f"arXiv:{paper.arxiv_id}" in html, f"{url} is not the page of {paper.arxiv_id}"
        assert f'href="{paper.abs_url}"' in html or paper.abs_url in html, f"{url} has no arXiv link"
        _assert_links_resolve(html, f"similar papers of {paper.arxiv_id}", by_url)
        assert "<script>alert" not in html and "<svg/onload" not in html, f"live markup on {url}"


def test_votes_for_you_feed_and_digest_preview_for_every_paper(archive):
    voter = make_subscriber("voter@example.org", password="correct-horse-battery-9")
    reader = make_subscriber("reader@example.org", password="correct-horse-battery-9")
    Profile.objects.filter(user=voter).update(onboarded_at=timezone.now())
    Topic.objects.filter(user=voter).update(categories=["cs.LG"])
    # The reader rated nothing: their recommendations (For you, the feed) list the whole archive.
    Profile.objects.filter(user=reader).update(onboarded_at=timezone.now(), papers_per_email=1000)
    Topic.objects.filter(user=reader).update(categories=[])
    signed_in, anonymous, fresh = Client(), Client(), Client()
    signed_in.force_login(voter)
    fresh.force_login(reader)
    by_url = _paper_urls(archive)

    for paper in archive:
        url = reverse("web:act", args=[paper.arxiv_id])
        page = reverse("web:paper", args=[paper.arxiv_id])
        response = _ok(signed_in.post(url, {"kind": "upvote"}), f"vote on {paper.arxiv_id}")
        assert response.status_code == 302 and response["Location"] == page, (paper.arxiv_id, response)
        response = _ok(signed_in.post(url, {"kind": "save"}, headers={"HX-Request": "true"}), f"htmx {paper.arxiv_id}")
        assert f'action="{url}"' in response.content.decode(), f"the swapped buttons of {paper.arxiv_id}"
        response = _ok(anonymous.post(url, {"kind": "upvote"}), f"anonymous vote on {paper.arxiv_id}")
        assert response.status_code == 302 and "login" in response["Location"]
        assert _ok(signed_in.get(page), f"{page} signed in").status_code == 200
    assert Interaction.objects.filter(user=voter, kind="upvote").count() == len(archive)

    for client, who in ((signed_in, "voter"), (fresh, "reader")):
        response = _ok(client.get(reverse("web:for_you")), f"For you ({who})")
        _assert_links_resolve(response.content.decode(), f"For you ({who})", by_url)
        _ok(client.get(reverse("digest:preview")), f"digest preview ({who})")
        response = _ok(client.get(reverse("web:onboarding_rate")), f"onboarding ({who})")
        _assert_links_resolve(response.content.decode(), f"onboarding ({who})", by_url)

    listed = set()
    for user in (voter, reader):
        token = Profile.objects.get(user=user).feed_token
        response = _ok(anonymous.get(reverse("web:feed", args=[token])), "personal Atom feed")
        root = ElementTree.fromstring(response.content)
        for link in root.iter(f"{ATOM}link"):
            href = link.get("href", "")
            if "/papers/" in href:
                path = "/papers/" + href.split("/papers/", 1)[1]
                assert path in by_url, f"the feed links to {href!r}, which is no paper's page"
                listed.add(by_url[path])
    old = {p.arxiv_id for p in archive if "/" in p.arxiv_id}
    assert old & listed, "no old-scheme paper reached the personal feed"


def test_admin_pages_of_papers_answer_and_link_to_the_public_page(archive, smtp_server):
    from recommender.digest.services import digest_send_now

    staff = get_user_model().objects.create_superuser(username="op", email="op@lab.example", password="x-Op-pass-42")
    operator = Client()
    operator.force_login(staff)
    reader = make_subscriber("admin-reader@example.org")
    Profile.objects.filter(user=reader).update(papers_per_email=50)
    Topic.objects.filter(user=reader).update(categories=[])
    for paper in archive[:: max(1, len(archive) // 40)]:
        Interaction.objects.create(user=reader, paper=paper, kind="click", source="email")
    delivery, _ = digest_send_now(user=Profile.objects.get(user=reader).user)

    listing = ""
    for page in range(1, 10):  # the changelist pages through the whole archive (50 a page)
        response = _ok(operator.get("/admin/recommender/paper/", {"p": page}), f"admin paper list page {page}")
        if response.status_code != 200:
            break
        listing += response.content.decode()
    for paper in archive:
        public = reverse("web:paper", args=[paper.arxiv_id])
        change = f"/admin/recommender/paper/{paper.pk}/change/"
        assert f'href="{public}"' in listing, f"the admin list does not link {paper.arxiv_id} to {public}"
        assert f'href="{change}' in listing, f"the admin list does not link {paper.arxiv_id} to its change page"
        response = operator.get(change)
        assert response.status_code == 200, f"{change} answered {response.status_code}"
        assert f'href="{public}"' in response.content.decode(), f"{change} does not link to {public}"
        # The link opens that paper's page (every paper page is fetched in the listing test above).
        assert resolve(public).kwargs == {"arxiv_id": paper.arxiv_id}, public
        if "/" in paper.arxiv_id or paper.arxiv_id.endswith("1"):  # search by id: both schemes
            response = _ok(operator.get("/admin/recommender/paper/", {"q": paper.arxiv_id}), f"admin search {paper}")
            assert f'href="{public}"' in response.content.decode(), f"admin search for {paper.arxiv_id}"

    _ok(operator.get("/admin/recommender/interaction/"), "admin interactions")
    for interaction in Interaction.objects.select_related("paper"):
        where = f"admin interactions of {interaction.paper.arxiv_id}"
        response = _ok(operator.get("/admin/recommender/interaction/", {"q": interaction.paper.arxiv_id}), where)
        assert interaction.paper.arxiv_id in response.content.decode(), where
        _ok(operator.get(f"/admin/recommender/interaction/{interaction.pk}/change/"), f"{where} (change)")
    _ok(operator.get("/admin/recommender/digestdelivery/"), "admin deliveries")
    _ok(operator.get(f"/admin/recommender/digestdelivery/{delivery.pk}/change/"), "admin delivery page")
    if delivered_ids(delivery):
        _ok(operator.get(reverse("admin:recommender_digestdelivery_email", args=[delivery.pk])), "admin view email")
    _ok(operator.get(f"/admin/recommender/profile/{Profile.objects.get(user=reader).pk}/change/"), "admin subscriber")
    _ok(operator.get("/admin/"), "admin dashboard")
