"""The digest's text as a reader receives it (issue 18, items 5 and 7): summaries, snippets, the summary table."""

from __future__ import annotations

import email
import email.policy
import html as html_lib
import re

import pytest
from django.utils import timezone

from recommender.digest.context import digest_build
from recommender.digest.services import digest_raw_message
from recommender.ingest import arxiv_api, hf_daily
from recommender.ingest.services import paper_upsert_many
from recommender.models import Paper
from recommender.summaries import extractive
from recommender.templatetags.digest_email import detailed_papers
from tests.factories import subscriber

pytestmark = pytest.mark.django_db


def _received(user, n_papers: int) -> tuple[str, str]:
    """(HTML, text) of ``user``'s digest as the SMTP message carries them."""
    content = digest_build(user=user, now=timezone.now(), delivery_id=77)
    assert not content.skip_reason and len(content.context["items"]) == n_papers
    data = digest_raw_message(content=content, message_id="<t.77@example.org>").as_smtp_bytes()
    message = email.message_from_bytes(data, policy=email.policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    return html, text


@pytest.fixture
def recorded(shared_data):
    """The Hugging Face daily papers (with AI summaries) and the arXiv API papers, all announced today."""
    feeds = shared_data / "feeds"
    for source, parse, name in [
        ("hf-daily", hf_daily.parse, "daily_papers_30.json"),
        ("arxiv-api", arxiv_api.parse, "query_testing_100.xml"),
    ]:
        paper_upsert_many(entries=parse((feeds / source / name).read_bytes()), source=source)
    Paper.objects.update(announced_on=timezone.now().date(), primary_category="cs.LG", categories="cs.LG")
    for paper in Paper.objects.all():
        paper.tldr = extractive.summarize(paper.abstract)
        paper.save(update_fields=["tldr"])
    return Paper.objects.all()


def test_summary_is_a_table_of_every_paper_with_boundary_cut_lines(recorded):
    user = subscriber("reader@example.org", categories=["cs.LG"], papers_per_email=50)
    html, text = _received(user, 50)
    table = html[html.index('<table class="summary"') : html.index("</table>", html.index('<table class="summary"'))]
    assert re.search(r"<th[^>]*>Ref</th><th[^>]*>Title</th><th[^>]*>Summary</th>", re.sub(r"\s+", "", table))
    rows = re.findall(r"<tr[^>]*>\s*<td class=\"ref\">(.*?)</tr>", table, re.S)
    assert len(rows) == 50
    for rank, row in enumerate(rows, start=1):
        assert re.search(rf">{rank}<|^{rank}<", row), row  # numbered refs, in order
        # The last cell: a one-line summary that ends on a word or a sentence, never inside a formula.
        line = html_lib.unescape(re.sub(r"<[^>]+>", "", row.rsplit("<td", 1)[1].split(">", 1)[1])).strip()
        head = line.removesuffix("…")
        assert head and head.count("$") % 2 == 0, line
        tldrs = [p.tldr for p in recorded] + [" ".join(p.ai_summary.split()) for p in recorded]
        full = next(t for t in tldrs if t and t.startswith(head))
        after = full[len(head) : len(head) + 1]
        assert not (head[-1].isalnum() and after.isalnum()), f"cut mid-word: {line!r}"
    # Details for the first papers only; every other row links to its paper.
    detailed = detailed_papers(50)
    assert len(re.findall(r'<td class="paper" id="paper-\d+"', html)) == detailed
    assert len(re.findall(r'<tr id="paper-\d+">', table)) == 50 - detailed
    assert "FOR YOU" in text and text.count("/d/c/") >= 50 - detailed


def test_the_hugging_face_summary_is_preferred_and_named(recorded):
    # Half of the day's papers have a Hugging Face summary, half not.
    with_summary = list(recorded.exclude(ai_summary="").values_list("pk", flat=True))
    without = list(recorded.filter(ai_summary="").values_list("pk", flat=True))
    Paper.objects.exclude(pk__in=with_summary[:8] + without[:8]).delete()
    user = subscriber("hf@example.org", categories=["cs.LG"], papers_per_email=10)
    content = digest_build(user=user, now=timezone.now())
    html, text = _received(user, 10)
    for item in content.context["items"][:5]:
        paper = Paper.objects.get(pk=item["id"])
        detail = html[html.index(f'id="paper-{item["rank"]}"') :]
        detail = detail[: detail.index("</td>")]
        if paper.ai_summary:
            summary = " ".join(paper.ai_summary.split())
            assert item["tldr"] == summary and item["tldr_source"] == "Hugging Face AI summary"
            assert html_lib.escape(summary) in detail and "Hugging Face AI summary" in detail
            assert f"TL;DR (Hugging Face AI summary): {summary}" in text
        else:
            assert item["tldr"] == paper.tldr and "key sentence of the abstract" in detail
    sources = {item["tldr_source"] for item in content.context["items"]}
    assert "Hugging Face AI summary" in sources, sources


def test_the_email_wears_the_site_brand_colour(recorded):
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "site.css").read_text()
    accent = re.search(r"--accent:\s*(#[0-9a-fA-F]{6})", css).group(1).lower()
    html, _ = _received(subscriber("brand@example.org", categories=["cs.LG"]), 10)
    brand = re.search(r'<a class="brand"[^>]*style="([^"]*)"', html).group(1)
    assert f"color:{accent}" in brand.replace(" ", "").lower()
    assert "#b42318" not in html.lower()  # the old red
