"""The size budget: every digest a subscriber can choose stays under Gmail's clipping limit (~102 KB).

Gmail hides everything after ~102 KB of a message, the footer with the
unsubscribe link included. Budget: the HTML part under 90 KB and the whole
message under 100 KB, both as sent (MIME, quoted-printable), for the largest
choices a subscriber can make: the preferences form's maximum of papers per
email, every second language with its translations filled, the longest
titles and abstracts of the recorded feeds, every link a paper can have and
the trending section; and with translated abstracts chosen, each of them as
long as the guards accept (which bounds what any model can make a digest carry).
Rendered through the real path: context -> fragments render -> the SMTP
message's bytes.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re

import pytest
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone

from recommender.digest.context import TRENDING_PER_DIGEST, digest_build
from recommender.digest.services import digest_raw_message
from recommender.ingest import arxiv_api, arxiv_oai, arxiv_rss, hf_daily
from recommender.ingest.services import paper_upsert_many
from recommender.models import Paper, PaperTranslation
from recommender.summaries import extractive, guards
from recommender.summaries.languages import ORIGINAL, SUPPORTED
from recommender.summaries.sources import abstract_shown, text_hash
from recommender.templatetags.digest_email import DEFAULT_DIGEST, detailed_papers
from recommender.web.forms import PreferencesForm
from tests.factories import subscriber
from tests.summaries.llm_server import fake_translation

pytestmark = pytest.mark.django_db

HTML_BUDGET = 90_000
MESSAGE_BUDGET = 100_000
SITE_URL = "https://paperboy.example.org"  # a production-length origin (links are most of the bytes)
FEEDS = {
    "arxiv-api": (arxiv_api.parse, ["query_testing_100.xml", "query_testing_10.xml", "old_format_author_query.xml"]),
    "arxiv-oai": (arxiv_oai.parse, ["arXivRaw_ListRecords.xml", "arXiv_ListRecords_hep-th.xml"]),
    "arxiv-rss": (arxiv_rss.parse, ["arxiv_cs_ai.xml", "arxiv_cs_cl.xml"]),
    "hf-daily": (hf_daily.parse, ["daily_papers_30.json"]),
}


def _max_papers_per_email() -> int:
    return PreferencesForm.base_fields["papers_per_email"].max_value


PRODUCTION_PAPER_ID = 99_999_999  # ids appear in every link and anchor: size them as in years of arXiv


def _production_sized_ids() -> None:
    """Make the next paper ids 9 digits long on either database, whatever earlier tests left in the sequence
    (on PostgreSQL it keeps counting across tests, so sizes would depend on test order): an id past the
    current ones, then ``sequence_reset_sql`` (what ``loaddata`` uses) so the sequence continues after it."""
    style = no_style()
    Paper.objects.create(id=PRODUCTION_PAPER_ID, arxiv_id="0000.00000", title="sequence marker")
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(style, [Paper]):
            cursor.execute(sql)
    Paper.objects.filter(id=PRODUCTION_PAPER_ID).delete()


def _ingest_recorded_feeds(shared_data) -> None:
    _production_sized_ids()
    for source, (parse, names) in FEEDS.items():
        for name in names:
            paper_upsert_many(entries=parse((shared_data / "feeds" / source / name).read_bytes()), source=source)


def _largest_papers(n: int) -> list[Paper]:
    """The recorded papers with the longest text, given every link and badge a paper can have.

    The first ``n`` are announced today (the digest's candidates), the next
    few are last week's trending papers; everything else is old news.
    """
    today = timezone.now().date()
    papers = sorted(Paper.objects.all(), key=lambda p: -(len(p.abstract) + 4 * len(p.title)))
    assert len(papers) >= n + TRENDING_PER_DIGEST, f"the recorded feeds hold only {len(papers)} papers"
    Paper.objects.update(announced_on=today - dt.timedelta(days=60), trending_score=0)
    for i, paper in enumerate(papers[: n + TRENDING_PER_DIGEST]):
        paper.announced_on = today if i < n else today - dt.timedelta(days=5)
        paper.trending_score = 0.0 if i < n else 5.0 - i / 100
        paper.primary_category = "cs.LG"
        paper.categories = " ".join(dict.fromkeys(["cs.LG", "cs.CL", "cs.AI", "stat.ML", *paper.categories.split()]))
        paper.sources = sorted({*paper.sources, "hf-daily"})
        paper.github_repo = paper.github_repo or "https://github.com/example-organisation/a-long-repository-name"
        paper.github_stars, paper.hf_upvotes = 12345, 987
        paper.authors = paper.authors + [f"Author With A Long Name {k}" for k in range(12)]
        paper.tldr = extractive.summarize(paper.abstract)
        paper.save()
    return papers[: n + TRENDING_PER_DIGEST]


def _translate(papers: list[Paper], language: str) -> None:
    PaperTranslation.objects.bulk_create(
        PaperTranslation(
            paper=p,
            language=language,
            title=fake_translation(p.title, language),
            tldr=fake_translation(p.tldr, language),
            backend="test",
        )
        for p in papers
    )


def longest_translated_abstract(source: str, language: str) -> str:
    """The longest translation of the abstract ``source`` into ``language`` that the guards accept: the
    stand-in translation (numbers and formulas kept) repeated up to ``translated_abstract_max_chars``."""
    limit = guards.translated_abstract_max_chars(source=source, language=language)
    one = fake_translation(source, language)
    return ((one + " ") * (limit // (len(one) + 1) + 1))[:limit].rstrip()


def _translate_abstracts(papers: list[Paper], language: str) -> None:
    for paper in papers:
        source = abstract_shown(paper.abstract)
        PaperTranslation.objects.filter(paper=paper, language=language).update(
            abstract=longest_translated_abstract(source, language), abstract_source_hash=text_hash(source)
        )


def _sizes(user, *, language: str, delivery_id: int = 2_000_000_000) -> tuple[int, int, str]:
    """(HTML part as sent, whole message as sent, decoded HTML) for ``user``'s digest."""
    content = digest_build(user=user, now=timezone.now(), language=language, delivery_id=delivery_id)
    assert not content.skip_reason, content.skip_reason
    assert content.language == language  # bilingual: the translations are there
    raw = digest_raw_message(content=content, message_id="<0123456789.2000000000@paperboy.example.org>")
    data = raw.as_smtp_bytes()
    message = email.message_from_bytes(data, policy=email.policy.default)
    html_part = message.get_body(preferencelist=("html",))
    return len(html_part.get_payload(decode=False).encode("ascii")), len(data), html_part.get_content()


@pytest.fixture
def largest(shared_data, settings):
    settings.SITE_URL = SITE_URL
    _ingest_recorded_feeds(shared_data)
    papers = _largest_papers(_max_papers_per_email())
    for language in SUPPORTED:
        if language != ORIGINAL:
            _translate(papers, language)
    return papers


@pytest.mark.parametrize("papers_per_email", [DEFAULT_DIGEST, "max"])
def test_every_digest_a_subscriber_can_choose_fits_the_budget(largest, papers_per_email):
    """The largest digests: the default length (details for the most papers) and the form's maximum (most rows)."""
    n = _max_papers_per_email() if papers_per_email == "max" else papers_per_email
    user = subscriber("a.rather.long.address+digests@subdomain.example.org", categories=["cs.LG"], papers_per_email=n)
    for language in SUPPORTED:
        html_sent, message_sent, html = _sizes(user, language=language)
        assert len(re.findall(r'id="paper-\d+"', html)) == n  # every paper keeps its numbered anchor
        assert "Unsubscribe in one click" in html[-2500:]
        assert html_sent < HTML_BUDGET, f"{language}, {n} papers: the HTML part is {html_sent} bytes as sent"
        assert message_sent < MESSAGE_BUDGET, f"{language}, {n} papers: the message is {message_sent} bytes as sent"


@pytest.mark.slow
@pytest.mark.parametrize("papers_per_email", [DEFAULT_DIGEST, "max"])
def test_translated_abstracts_fit_the_budget(largest, papers_per_email):
    """A reader who chose translated abstracts: each paper shown in full carries one, as long as the guards let
    it be (Russian: 1.4 x the 1,500-character abstract, two bytes a letter), in every second language."""
    n = _max_papers_per_email() if papers_per_email == "max" else papers_per_email
    user = subscriber(
        "a.rather.long.address+digests@subdomain.example.org",
        categories=["cs.LG"],
        papers_per_email=n,
        translate_abstract=True,
    )
    for language in SUPPORTED:
        if language == ORIGINAL:
            continue
        _translate_abstracts(largest, language)
        html_sent, message_sent, html = _sizes(user, language=language)
        shown = detailed_papers(n, translated_abstracts=True)
        assert html.count(f'class="abstract mt" lang="{language}"') == shown, language
        assert len(re.findall(r'id="paper-\d+"', html)) == n
        assert "Unsubscribe in one click" in html[-2500:]
        assert html_sent < HTML_BUDGET, f"{language}, {n} papers, abstracts: the HTML part is {html_sent} bytes"
        assert message_sent < MESSAGE_BUDGET, f"{language}, {n} papers, abstracts: the message is {message_sent} bytes"


@pytest.mark.slow
@pytest.mark.parametrize("papers_per_email", [DEFAULT_DIGEST, "max"])
def test_a_digest_with_a_section_per_topic_fits_the_budget(largest, papers_per_email):
    """Issue 15: one section per topic, each headed by the topic's name in the summary table and above its
    first detailed paper. The largest: as many topics as an account may keep, names at their maximum length,
    each wanting one of the papers most (an include phrase only that paper has), so that the digest has as
    many sections as it can."""
    from recommender.subscriptions.topics import MAX_NAME_CHARS, MAX_TOPICS, topic_create

    n = _max_papers_per_email() if papers_per_email == "max" else papers_per_email
    user = subscriber("a.rather.long.address+digests@subdomain.example.org", categories=["cs.LG"], papers_per_email=n)
    for k, phrase in enumerate(_phrases_only_in(largest[:n])[: MAX_TOPICS - 1], start=1):
        name = f"Topic {k:02d} " + "with a name as long as a topic name may be, " * 3
        topic_create(user=user, name=name[:MAX_NAME_CHARS].strip(), categories=["cs.LG"], include_keywords=[phrase])
    content = digest_build(user=user, now=timezone.now())
    sections = sum("section" in item for item in content.context["items"])
    # (not every paper has a phrase of its own, and the default topic keeps the papers it ranks as high)
    assert sections >= min(n, MAX_TOPICS) * 3 // 4, f"only {sections} sections"
    for language in SUPPORTED:
        html_sent, message_sent, html = _sizes(user, language=language)
        assert html.count('class="topic-row"') == sections, language  # a heading per section
        assert len(re.findall(r'id="paper-\d+"', html)) == n
        assert "Unsubscribe in one click" in html[-2500:]
        assert html_sent < HTML_BUDGET, f"{language}, {n} papers in topics: the HTML part is {html_sent} bytes"
        assert message_sent < MESSAGE_BUDGET, f"{language}, {n} papers in topics: the message is {message_sent} bytes"


def _phrases_only_in(papers: list[Paper]) -> list[str]:
    """For each paper, the first words of its title, as long as it takes for no other paper to contain them."""
    haystacks = [f"{p.title} {p.abstract}".lower() for p in Paper.objects.all()]
    out = []
    for paper in papers:
        words = re.findall(r"[a-z]+", paper.title.lower())
        for k in range(2, len(words) + 1):
            phrase = " ".join(words[:k])
            found = [h for h in haystacks if re.search(rf"\b{re.escape(phrase)}\b", h)]
            if len(found) == 1:
                out.append(phrase)
                break
    return out


def test_a_part_is_base64_only_when_that_is_smaller():
    """Quoted-printable costs 9 bytes per CJK character: such parts go base64, Latin ones stay quoted-printable."""
    from recommender.digest.mime import RawDigestMessage

    for text, expected in [
        ("Plain English, a café and a line\n" * 200, "quoted-printable"),
        ("这篇论文研究了一个重要的问题\n" * 200, "base64"),
        ("Эта статья изучает важную задачу\n" * 200, "base64"),
    ]:
        raw = RawDigestMessage(
            subject="s", text=text, html=f"<p>{text}</p>", from_email="a@example.org", to=["b@example.org"], headers={}
        )
        message = email.message_from_bytes(raw.as_smtp_bytes(), policy=email.policy.default)
        for part, body in zip(message.iter_parts(), (text, f"<p>{text}</p>"), strict=True):
            assert part["Content-Transfer-Encoding"] == expected
            assert part.get_content().replace("\r\n", "\n") == body


def test_the_budget_holds_with_three_updates_and_the_pause_line(largest):
    """Issue 16 adds per-subscriber lines: three "Updates on your papers" (the longest titles, 120-character
    comments, each with its stop link) and the footer's pause line. The largest digest still fits."""
    from recommender.digest.followups import COMMENT_CHARS, UPDATES_PER_DIGEST
    from recommender.models import DigestDelivery, PaperUpdate, Profile
    from recommender.subscriptions.pause import pause_end_for, profile_pause

    n = _max_papers_per_email()
    user = subscriber("a.rather.long.address+digests@subdomain.example.org", categories=["cs.LG"], papers_per_email=n)
    delivery = DigestDelivery.objects.create(user=user, period_key="2026-12-01")
    followed = sorted(Paper.objects.all(), key=lambda p: -len(p.title))[:UPDATES_PER_DIGEST]
    for paper in followed:
        text = f"v9: {'camera-ready, accepted at a conference with a long name ' * 3}"[: COMMENT_CHARS + 4]
        PaperUpdate.objects.create(user=user, paper=paper, kind="version", key="v9", text=text, delivery=delivery)
    profile = Profile.objects.get(user=user)
    profile_pause(
        profile=profile, start=timezone.now() + dt.timedelta(minutes=5), end=pause_end_for(profile=profile, weeks=4)
    )
    for language in SUPPORTED:
        html_sent, message_sent, html = _sizes(user, language=language, delivery_id=delivery.pk)
        assert "Updates on your papers" in html and "this is the last one until" in html
        assert html_sent < HTML_BUDGET, f"{language}, {n} papers + updates: the HTML part is {html_sent} bytes"
        assert message_sent < MESSAGE_BUDGET, f"{language}, {n} papers + updates: the message is {message_sent} bytes"
