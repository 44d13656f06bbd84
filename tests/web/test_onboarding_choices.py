"""Onboarding and preferences as a reader sees them: named categories grouped by archive, authors on the
papers to rate, and a searchable time-zone list (the browser's own zone is tested in tests/browser)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from recommender.models import Profile, Topic
from recommender.papers import selectors, taxonomy
from recommender.subscriptions.topics import topic_default
from tests.factories import make_paper

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    """Statistics busiest, then Computer Science, then Physics; one code arXiv does not have."""
    for _ in range(5):
        make_paper(category="stat.ML")
    for _ in range(3):
        make_paper(category="cs.CV")
    make_paper(category="cs.LG")
    for _ in range(2):
        make_paper(category="hep-th", categories="hep-th gr-qc")
    make_paper(category="zz.QQ")


def _groups(html: str) -> list[str]:
    return re.findall(r'<p class="category-group-title" id="[^"]+">([^<]+)</p>', html)


def _labels(html: str) -> list[str]:
    return [label.strip() for label in re.findall(r'name="categories" value="[^"]+"[^>]*>([^<]+)</label>', html)]


def test_step_one_names_categories_grouped_by_archive_busiest_first(member_client, catalogue):
    html = member_client.get(reverse("web:onboarding")).content.decode()
    groups = _groups(html)
    assert groups[:3] == ["Statistics", "Computer Science", "Physics"], groups
    labels = _labels(html)
    assert "Machine Learning (cs.LG)" in labels and "Machine Learning (stat.ML)" in labels
    assert "High Energy Physics - Theory (hep-th)" in labels
    assert "zz.QQ" in labels, "an unknown code shows as the code"
    cs = [label for label in labels if "(cs." in label]
    assert cs[:2] == ["Computer Vision and Pattern Recognition (cs.CV)", "Machine Learning (cs.LG)"], cs
    assert not re.search(r">\s*cs\.[A-Z]{2}\s*</label>", html), "no bare cs.* code as a label"


def test_step_one_saves_the_categories_and_time_zone(member_client, member, catalogue):
    data = {"categories": ["hep-th", "cs.LG"], "time_zone": "Asia/Tokyo"}
    response = member_client.post(reverse("web:onboarding"), data)
    assert response.status_code == 302
    profile = Profile.objects.get(user=member)
    assert (sorted(topic_default(user=member).categories), profile.time_zone) == (["cs.LG", "hep-th"], "Asia/Tokyo")
    response = member_client.post(reverse("web:onboarding"), {"categories": ["cs.LG"], "time_zone": "Mars/Olympus"})
    assert response.status_code == 200 and "Unknown time zone" in response.content.decode()
    member_client.post(reverse("web:onboarding"), {"categories": ["cs.LG"]})  # a page without the field
    assert Profile.objects.get(user=member).time_zone == "Asia/Tokyo"


@pytest.mark.parametrize("url", ["web:onboarding", "web:preferences"])
def test_time_zone_is_a_searchable_list_of_iana_zones(member_client, url):
    html = member_client.get(reverse(url)).content.decode()
    field = re.search(r'<input type="text" name="time_zone"[^>]*>', html).group(0)
    list_id = re.search(r'list="([^"]+)"', field).group(1)
    options = re.search(rf'<datalist id="{list_id}">(.*?)</datalist>', html, re.S).group(1)
    zones = re.findall(r'<option value="([^"]+)">', options)
    assert {"UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"} <= set(zones)
    assert len(zones) > 300 and not any(z.startswith("Etc/") for z in zones)
    assert "data-browser-zone" in field and "js/timezone.js" in html


def test_a_topic_names_and_keeps_the_chosen_categories(member_client, member, catalogue):
    Topic.objects.filter(user=member).update(categories=["hep-th"])
    html = member_client.get(reverse("web:topic", args=["general"])).content.decode()
    assert "High Energy Physics - Theory (hep-th)" in _labels(html)
    assert re.search(r'value="hep-th" checked>', html)
    assert _groups(html)[:3] == ["Statistics", "Computer Science", "Physics"]


def test_the_daily_category_filter_uses_the_same_names(client, catalogue):
    html = client.get(reverse("web:daily")).content.decode()
    assert '<optgroup label="Statistics">' in html
    assert '<option value="stat.ML">Machine Learning (stat.ML)</option>' in html
    assert '<option value="hep-th">High Energy Physics - Theory (hep-th)</option>' in html


def test_step_two_shows_shortened_authors_and_the_category_name(member_client, member):
    make_paper(title="A paper by many", authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Emmy Noether"])
    make_paper(title="A paper by one", authors=["Kurt Gödel"], category="math.LO")
    Topic.objects.filter(user=member).update(categories=["cs.LG", "math.LO"])
    html = member_client.get(reverse("web:onboarding_rate")).content.decode()
    assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in html
    assert "Grace Hopper, Emmy" not in html
    assert "Kurt Gödel" in html and "Logic (math.LO)" in html


def test_every_offered_category_is_named_and_every_name_is_a_valid_code():
    for code in taxonomy.NAMES:
        assert selectors.CATEGORY_RE.match(code), code
        assert taxonomy.group_of(code) in taxonomy.GROUPS, code
    for code in selectors.COMMON_CATEGORIES:
        assert code in taxonomy.NAMES, code
    assert taxonomy.category_label("cs.LG") == "Machine Learning (cs.LG)"
    assert taxonomy.category_label("zz.QQ") == "zz.QQ"
