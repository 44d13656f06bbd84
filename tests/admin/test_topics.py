"""The admin shows a subscriber's topics: on their subscriber page (a table) and inline on the user page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from recommender.interactions.services import interaction_record
from recommender.models import Profile
from recommender.subscriptions.topics import topic_create
from tests.factories import make_subscriber, preferences_set

pytestmark = pytest.mark.django_db


def test_the_subscriber_page_and_list_show_every_topic(staff_client, papers_today):
    ada = make_subscriber("ada@example.org")
    preferences_set(ada, categories=["cs.LG"], include_keywords=["graph"])
    rl = topic_create(user=ada, name="RL <theory>", categories=["cs.AI"], exclude_authors=["Someone"])
    interaction_record(user=ada, paper=papers_today[0], kind="upvote", topic=rl)
    profile = Profile.objects.get(user=ada)
    html = staff_client.get(reverse("admin:recommender_profile_change", args=[profile.pk])).content.decode()
    table = re.search(r'<table class="topics">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td>.*?<td>(\d+)</td><td>([^<]*)</td></tr>", table)
    assert rows == [("General", "cs.LG", "0", "general"), ("RL &lt;theory&gt;", "cs.AI", "1", "rl-theory")]
    assert "+ graph / - -" in table and "+ - / - Someone" in table
    assert reverse("admin:auth_user_change", args=[ada.pk]) + "#topics-group" in html

    listing = staff_client.get(reverse("admin:recommender_profile_changelist")).content.decode()
    assert "General: cs.LG; RL &lt;theory&gt;: cs.AI" in listing

    user_page = staff_client.get(reverse("admin:auth_user_change", args=[ada.pk])).content.decode()
    assert 'id="topics-group"' in user_page and 'name="topics-1-name"' in user_page
    assert 'name="topics-0-DELETE"' not in user_page  # deleting a topic (and its votes) is the reader's
