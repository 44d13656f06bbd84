"""Fragments with translated abstracts: the cached pieces of a paper differ by whether the reader chose them,
and every email is still byte for byte the whole render (issue 18 item 15)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from recommender.digest.context import digest_batch_build, digest_build
from recommender.digest.render import render_digest, render_digest_whole
from recommender.models import PaperTranslation
from recommender.summaries.sources import abstract_shown, text_hash
from recommender.templatetags.digest_email import detailed_papers
from tests.factories import subscriber

pytestmark = pytest.mark.django_db

HOSTILE = "这篇论文 <script>alert(1)</script> & “引号” 研究了图神经网络的 5 个基准 "


def test_readers_with_and_without_translated_abstracts_share_a_batch(papers_today, trending_old):
    for paper in [*papers_today, *trending_old]:
        PaperTranslation.objects.create(
            paper=paper,
            language="zh",
            title=f"论文 {paper.pk}",
            tldr="这篇论文研究了一个重要的问题",
            backend="test",
            abstract=HOSTILE * 3,
            abstract_source_hash=text_hash(abstract_shown(paper.abstract)),
        )
    readers = [
        subscriber(f"zh{i}@example.org", language="zh", translate_abstract=bool(i % 2)) for i in range(4)
    ]  # interleaved: each paper's pieces are cached by one kind of reader, then read by the other
    batch = digest_batch_build(user_ids=[u.pk for u in readers], now=timezone.now())
    for n, reader in enumerate(readers):
        content = digest_build(user=reader, now=timezone.now(), batch=batch, delivery_id=3000 + n)
        assert not content.skip_reason and content.language == "zh"
        for _ in range(2):  # the second time from the cached pieces
            fast, whole = render_digest(content.context), render_digest_whole(content.context)
            assert (fast.subject, fast.text, fast.html) == (whole.subject, whole.text, whole.html)
        count = len(content.context["items"])
        if reader.profile.translate_abstract:
            shown = detailed_papers(count, translated_abstracts=True)
            assert fast.html.count('class="abstract mt" lang="zh"') == shown
            assert fast.text.count("Abstract: 这篇论文") == shown
            assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in fast.html and "<script>alert" not in fast.html
        else:
            assert 'class="abstract mt"' not in fast.html and "Abstract: " not in fast.text
            assert fast.html.count('class="paper"') == detailed_papers(count)
