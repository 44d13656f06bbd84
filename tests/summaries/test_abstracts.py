"""Translated abstracts (issue 18 item 15): a reader's choice, made only for the papers their digest shows in
full, by a separate guarded request, cached per paper and language, counted apart, and received over SMTP."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from recommender.digest import abstracts, services
from recommender.models import DigestDelivery, LLMUsage, Paper, PaperTranslation, Profile
from recommender.summaries import extractive, guards
from recommender.summaries.languages import ORIGINAL, SUPPORTED
from recommender.summaries.services import abstracts_fill, summaries_fill
from recommender.summaries.sources import abstract_shown
from recommender.templatetags.digest_email import detailed_papers
from tests.factories import delivered_ids, make_paper, make_subscriber, preferences_set

from .llm_server import default_reply, fake_translation, is_abstract_translation

pytestmark = pytest.mark.django_db

ABSTRACT = (
    "Graph neural networks are widely used for node classification. However, training them on graphs with "
    "100 million edges is slow. We propose FastGNN, a sampling method that trains graph neural networks 10 times "
    "faster with $O(n \\log n)$ memory. Code is at https://github.com/example/fastgnn. Experiments on 5 "
    "benchmarks confirm the speed-up, and the <mask> token of the sampler is explained."
)


def _subscriber(email: str, **prefs):
    user = make_subscriber(email)
    preferences_set(user, categories=["cs.LG"], **prefs)
    user.refresh_from_db()
    return user


def _papers(n: int) -> list[Paper]:
    today = timezone.now().date()
    papers = []
    for i in range(n):
        paper = make_paper(
            category="cs.LG",
            title=f"Graph Neural Networks at Scale, Part {i + 1}: {2 ** (i + 4)} Layers",
            abstract=ABSTRACT.replace("FastGNN", f"FastGNN-{i + 1}"),
            announced_on=today,
            hf_upvotes=20 - i,
            trending_score=1.0 - i / 20,
        )
        paper.tldr = extractive.summarize(paper.abstract)
        paper.save(update_fields=["tldr"])
        papers.append(paper)
    return papers


def _abstract_requests(llm) -> list:
    return [r for r in llm.requests if is_abstract_translation(r.body)]


def _plan_fill_send(users) -> list[DigestDelivery]:
    """The tick's path: plan, make the abstracts the planned digests show (the task's step), then send."""
    now = timezone.now()
    Profile.objects.filter(user__in=users).update(next_digest_at=now)
    planned = services.digest_plan(now=now)
    abstracts.digest_abstracts_fill(user_ids=sorted(abstracts.readers_with_abstracts(user_ids=planned)))
    result = services.digest_send_batch(user_ids=planned, now=now)
    assert sorted(result.sent) == sorted(u.pk for u in users), result
    return [DigestDelivery.objects.get(user=u) for u in users]


def _message_for(smtp_server, email: str):
    [message] = [m for m in smtp_server.messages if m["To"] == email]
    text_part, html_part = list(message.iter_parts())
    return text_part.get_content(), html_part.get_content()


def test_a_reader_who_chose_it_gets_the_abstracts_of_the_papers_shown_in_full(llm, smtp_server):
    papers = _papers(8)
    zh = _subscriber("zh@example.org", language="zh", translate_abstract=True)
    plain = _subscriber("zh-plain@example.org", language="zh")  # a second language, no translated abstracts
    summaries_fill(paper_ids=[p.pk for p in papers])  # after ingestion: TL;DRs, titles and TL;DRs in Chinese
    assert not _abstract_requests(llm)  # never abstracts

    deliveries = _plan_fill_send([zh, plain])
    smtp_server.wait_for(2)

    # One request per paper shown in full (3 of 8 with translated abstracts), none for the summary rows.
    shown = detailed_papers(len(papers), translated_abstracts=True)
    delivered = delivered_ids(DigestDelivery.objects.get(user=zh))
    made = PaperTranslation.objects.filter(language="zh").exclude(abstract="")
    assert sorted(made.values_list("paper_id", flat=True)) == sorted(delivered[:shown])
    requests = _abstract_requests(llm)
    assert len(requests) == shown
    assert all("<abstract>" in r.user and "into Chinese" in r.system for r in requests)
    assert all(r.body["max_tokens"] == 1200 for r in requests)

    text, html = _message_for(smtp_server, zh.email)
    assert "titles, TL;DRs and abstracts machine-translated" in html and "TL;DRs and abstracts" in text
    for rank, paper_id in enumerate(delivered, start=1):
        paper = Paper.objects.get(pk=paper_id)
        translation = PaperTranslation.objects.get(paper=paper, language="zh")
        detail = html[html.index(f'id="paper-{rank}"') :]
        detail = detail[: detail.index("</tr>")]
        if rank <= shown:
            # Translated title, original title, links, translated TL;DR, translated abstract, original abstract.
            order = [translation.title, paper.title, "arXiv</a>", translation.tldr, translation.abstract]
            positions = [detail.index(part) for part in order]
            assert positions == sorted(positions), rank
            assert detail.index(translation.abstract) < detail.index("Original</span> Graph neural networks")
            assert 'class="abstract mt" lang="zh"' in detail
            block = text[text.index(f"[{rank}] ") :]
            assert block.index(translation.tldr) < block.index(f"Abstract: {translation.abstract}")
            assert block.index(translation.abstract) < block.index("Original: Graph neural networks")
        else:  # a row of the summary table: never an abstract, translated or not
            assert translation.abstract == "" and "Graph neural networks are" not in detail
    assert html.count('class="paper"') == shown  # fewer papers in full pay for the abstracts

    # The other reader: the usual layout (five papers in full), no translated abstract anywhere.
    text, html = _message_for(smtp_server, plain.email)
    assert html.count('class="paper"') == detailed_papers(len(papers))
    assert "TL;DRs and abstracts" not in html
    for translation in made:
        assert translation.abstract not in html and translation.abstract not in text
    assert all(d.language == "zh" for d in deliveries)


def test_made_once_per_paper_and_language_and_counted_apart(llm):
    [paper] = _papers(1)
    first = abstracts_fill(wanted={"zh": [paper.pk], "ru": [paper.pk]})
    assert first.abstracts == 2
    row = PaperTranslation.objects.get(paper=paper, language="ru")
    assert row.abstract and row.abstract_model == "test-model" and row.abstract_source_hash
    assert "https://github.com/example/fastgnn" not in row.abstract  # the fake drops links: still accepted
    usage = LLMUsage.objects.get()
    # 1 TL;DR + 2 title/TL;DR translations + 2 abstracts; the fake server reports 100 + 30 tokens a request.
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (5, 500, 150)
    assert (usage.abstract_requests, usage.abstract_prompt_tokens, usage.abstract_completion_tokens) == (2, 200, 60)

    before = llm.count
    again = abstracts_fill(wanted={"zh": [paper.pk], "ru": [paper.pk]})
    assert llm.count == before and again.abstracts_cached == 2 and again.requests == 0

    # A new abstract makes the stored translation stale: redone, by one request, for that abstract only.
    Paper.objects.filter(pk=paper.pk).update(abstract=paper.abstract + " A new sentence about 7 datasets.")
    third = abstracts_fill(wanted={"ru": [paper.pk]})
    assert third.abstracts == 1 and len(_abstract_requests(llm)) == 3
    assert "7" in PaperTranslation.objects.get(paper=paper, language="ru").abstract


def test_a_stale_abstract_translation_is_never_shown(llm, smtp_server):
    papers = _papers(2)
    reader = _subscriber("ru@example.org", language="ru", translate_abstract=True)
    abstracts_fill(wanted={"ru": [p.pk for p in papers]})
    old = PaperTranslation.objects.get(paper=papers[0], language="ru").abstract
    # The abstract changes (a new version) and no fill has run since: the stored translation is of the old one.
    Paper.objects.filter(pk=papers[0].pk).update(abstract="A rewritten abstract about 12 graphs. " + ABSTRACT)
    delivery = services.digest_send_now(user=reader)[0]
    assert delivery.status == "sent"
    text, html = _message_for(smtp_server, reader.email)
    assert old not in html and old not in text
    current = PaperTranslation.objects.get(paper=papers[1], language="ru").abstract
    assert current in html and current in text  # the other paper's is still its abstract's: shown


@pytest.mark.slow
@pytest.mark.parametrize(
    "reply, reason",
    [
        ("抱歉，我无法翻译这段内容。" * 12, "a refusal"),
        ("Here is the translation: " + fake_translation(ABSTRACT, "zh"), "a preamble"),
        ("图神经网络很快。", "not the whole abstract"),  # a summary, not a translation
        (fake_translation(ABSTRACT, "zh") + " 详见 https://evil.example/prize", "a link the abstract lacks"),
        (fake_translation(ABSTRACT, "zh").replace("100", ""), "a number dropped"),
        ("这篇论文" * 200, "padded"),
        ("<b>" + fake_translation(ABSTRACT, "zh") + "</b>", "markup the abstract lacks"),
    ],
)
def test_a_rejected_reply_is_stored_as_tried_and_never_shown(llm, reply, reason):
    [paper] = _papers(1)
    source = abstract_shown(paper.abstract)
    assert guards.abstract_translation_reason(source=source, output=reply, language="zh"), reason
    llm.default = lambda body: reply if is_abstract_translation(body) else default_reply(body)
    result = abstracts_fill(wanted={"zh": [paper.pk]})
    row = PaperTranslation.objects.get(paper=paper, language="zh")
    assert result.abstracts_rejected == 1 and row.abstract == "" and row.abstract_source_hash
    before = llm.count
    assert abstracts_fill(wanted={"zh": [paper.pk]}).abstracts_cached == 1  # the same abstract: not asked again
    assert llm.count == before


@pytest.mark.slow
def test_every_recorded_abstract_translated_faithfully_passes_the_guards(shared_data):
    """The guards accept a faithful translation of every recorded abstract into every digest language (links,
    numbers, formulas and ``<tokens>`` kept as the abstract has them), up to the longest they allow."""
    from tests.digest.test_size_budget import _ingest_recorded_feeds, longest_translated_abstract

    _ingest_recorded_feeds(shared_data)
    rejected = []
    for paper in Paper.objects.exclude(abstract=""):
        source = abstract_shown(paper.abstract)
        for language in SUPPORTED:
            if language == ORIGINAL:
                continue
            links = " ".join(re.findall(r"https?://\S+|<[a-z]+>", source))
            for output in (
                f"{fake_translation(source, language)} {links}".strip(),
                longest_translated_abstract(source, language),
            ):
                reason = guards.abstract_translation_reason(source=source, output=output, language=language)
                if reason:
                    rejected.append((paper.arxiv_id, language, reason))
    assert not rejected, rejected[:10]


def test_the_choice_is_on_the_preferences_page(client):
    user = _subscriber("prefs@example.org", language="ja")
    client.force_login(user)
    html = client.get(reverse("web:preferences")).content.decode()
    assert 'name="translate_abstract"' in html and "Translate the abstracts too" in html
    form = {
        "frequency": "daily",
        "weekday": "0",
        "send_time": "08:00",
        "time_zone": "UTC",
        "papers_per_email": "10",
        "categories": ["cs.LG"],
        "language": "ja",
        "translate_abstract": "on",
    }
    response = client.post(reverse("web:preferences"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Profile.objects.get(user=user).translate_abstract
    html = client.get(reverse("web:preferences")).content.decode()
    assert re.search(r'<input[^>]*name="translate_abstract"[^>]*checked', html)


def test_the_admin_shows_what_abstracts_cost_apart(llm, admin_client):
    [paper] = _papers(1)
    abstracts_fill(wanted={"ko": [paper.pk]})
    html = admin_client.get(reverse("admin:recommender_llmusage_changelist")).content.decode()
    assert "Translated abstracts" in html
    row = html[html.index('class="field-day') :]
    # 3 requests (TL;DR, title and TL;DR, abstract), 390 tokens; of which the abstract: 1 request, 130 tokens.
    cells = re.findall(r'<td class="field-([a-z_]+)[^"]*">(.*?)</td>', row)
    values = dict(cells)
    assert values["requests"] == "3" and values["tokens"] == "390"
    assert values["abstract_requests"] == "1" and values["abstract_tokens"] == "130"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_tick_sends_these_readers_after_their_abstracts_on_real_workers(celery_worker, llm, smtp_server):
    """The beat tick on a real worker: the reader who chose translated abstracts is sent by the abstracts task
    once they are made; the reader who did not is sent at once, and never waits for the model."""
    from recommender.digest.tasks import digest_tick

    papers = _papers(4)
    zh = _subscriber("zh@example.org", language="zh", translate_abstract=True)
    plain = _subscriber("en@example.org")
    summaries_fill(paper_ids=[p.pk for p in papers])
    Profile.objects.filter(user__in=[zh, plain]).update(next_digest_at=timezone.now())

    digest_tick.delay()

    smtp_server.wait_for(2, timeout=60)
    text, html = _message_for(smtp_server, zh.email)
    made = PaperTranslation.objects.filter(language="zh").exclude(abstract="")
    assert made.count() == detailed_papers(len(papers), translated_abstracts=True)
    for translation in made:
        assert translation.abstract in html and f"Abstract: {translation.abstract}" in text
    text, html = _message_for(smtp_server, plain.email)
    assert '<html lang="en"' in html and "Abstract:" not in text
