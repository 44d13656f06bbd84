"""The rendered email in a real browser (Debian Chromium via Playwright): fits 375 px phones and 1200 px desktops.

With ``PAPERBOY_SCREENSHOTS=1`` the screenshots are written to
``docs/screenshots/email-desktop.png`` and ``email-narrow.png`` (and ``email-zh-*.png`` for a bilingual
Chinese digest with translated abstracts, which needs CJK fonts: Debian's ``fonts-noto-cjk``, installed
by ``.ci/run``; without them every glyph is a box).
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from recommender.digest.context import digest_build
from recommender.digest.render import render_digest
from recommender.models import Paper, PaperTranslation
from recommender.summaries.sources import abstract_shown, text_hash
from tests.conftest import service_unavailable
from tests.factories import subscriber

pytestmark = [pytest.mark.django_db, pytest.mark.browser]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def _field(value):
    return ast.literal_eval(value) if isinstance(value, str) and value[:1] in "[{" else value


def _papers_from_hf(shared_data: Path, n: int = 8) -> list[Paper]:
    entries = json.loads((shared_data / "feeds" / "hf-daily" / "daily_papers_30.json").read_text())
    today = timezone.now().date()
    papers = []
    for i, entry in enumerate(entries[: n + 2]):
        p = entry["paper"]
        authors = [a["name"] for a in _field(p.get("authors") or "[]")]
        papers.append(
            Paper.objects.create(
                arxiv_id=p["id"],
                title=p["title"],
                abstract=p.get("summary", ""),
                authors=authors,
                primary_category="cs.CL",
                categories="cs.CL cs.LG",
                announced_on=today if i < n else today - dt.timedelta(days=5),
                sources=["hf-daily"],
                hf_upvotes=int(p.get("upvotes") or 0) + 40 - i,
                github_repo=p.get("githubRepo") or "",
                trending_score=(3.0 if i >= n else 1.0) - i / 100,
            )
        )
    return papers


@contextlib.contextmanager
def chromium():
    """Playwright runs an event loop in this thread: use it after all database work."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        service_unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def test_email_fits_phone_and_desktop(shared_data):
    _papers_from_hf(shared_data)
    user = subscriber("screens@example.org", categories=["cs.CL"])
    content = digest_build(user=user, now=timezone.now())
    assert not content.skip_reason
    html = render_digest(content.context).html
    save = os.environ.get("PAPERBOY_SCREENSHOTS") == "1"
    with chromium() as browser:
        _check_widths(browser, html, save=save)


def _cjk_fonts() -> None:
    """Fail in CI, skip elsewhere, when no font covers Chinese (the screenshot would show boxes)."""
    fc_list = shutil.which("fc-list")
    found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True).stdout if fc_list else ""
    if not found.strip():
        service_unavailable("no CJK font (apt-get install -y fonts-noto-cjk)")


def test_bilingual_chinese_email_with_translated_abstracts_fits_phone_and_desktop(shared_data):
    _cjk_fonts()
    topics = [
        "长上下文语言模型",
        "多智能体通信",
        "心理测量评估",
        "图神经网络",
        "检索增强生成",
        "代码生成",
        "视觉语言模型",
    ]
    for i, paper in enumerate(_papers_from_hf(shared_data)):
        PaperTranslation.objects.create(
            paper=paper,
            language="zh",
            title=f"面向{topics[i % len(topics)]}的高效方法研究",
            tldr="本文提出一种新的注意力近似方法，在保持精度的同时显著降低了计算开销。",
            backend="test",
            abstract="我们研究了大规模语言模型在长文本场景下的效率问题。" * 6,
            abstract_source_hash=text_hash(abstract_shown(paper.abstract)),
        )
    user = subscriber("screens-zh@example.org", categories=["cs.CL"], language="zh", translate_abstract=True)
    content = digest_build(user=user, now=timezone.now())
    assert not content.skip_reason and content.language == "zh"
    html = render_digest(content.context).html
    assert 'lang="zh"' in html and "我们研究了大规模语言模型" in html
    with chromium() as browser:
        _check_widths(browser, html, save=os.environ.get("PAPERBOY_SCREENSHOTS") == "1", prefix="email-zh")


def _check_widths(browser, html: str, *, save: bool, prefix: str = "email") -> None:
    for name, width in [("desktop", 1200), ("narrow", 375)]:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.set_content(html, wait_until="load")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name}: the email overflows ({scroll_width}px > {width}px)"
        container = page.evaluate("document.querySelector('.container').getBoundingClientRect().width")
        assert container <= 640
        # The summary is a table Ref | Title | Summary on a desktop, and one block per paper on a phone.
        title, line = page.evaluate(
            "[...document.querySelectorAll('.summary tr:nth-child(2) td')].slice(1).map(td => {"
            " const r = td.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left}; })"
        )
        if name == "desktop":
            assert abs(title["top"] - line["top"]) < 1 and line["left"] > title["left"]
        else:
            assert line["top"] >= title["bottom"] - 1 and abs(line["left"] - title["left"]) < 1
        if save:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(SCREENSHOTS / f"{prefix}-{name}.png"),
                clip={"x": 0, "y": 0, "width": width, "height": min(page.evaluate("document.body.scrollHeight"), 2400)},
                full_page=True,
            )
        page.close()
