"""A fresh web process loads the model and prepares the default candidates before its first request.

Issue 17: the first For you of a fresh worker took 3.4 s (the artifact loaded, the candidates encoded
and their neighbour graph built inside the request). ``digest_site/wsgi.py`` calls ``serving.warm_up``.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender import serving
from recommender.demo import demo_users_create
from recommender.ingest.services import ingest_sample
from recommender.models import Profile
from recommender.papers.trending import trending_refresh
from recommender.serving import candidates
from recommender.training.services import model_train

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_first_request_after_warm_up_loads_and_prepares_nothing(client):
    ingest_sample()
    demo_users_create(count=10, seed=0)
    trending_refresh()
    assert model_train(activate="always").is_active
    serving.reset_cache()
    assert serving.warm_up()
    assert candidates.cached_sets() == 1
    profile = Profile.objects.filter(user__username__startswith="demo_").first()
    client.force_login(profile.user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("web:for_you")).status_code == 200
    assert not [q["sql"] for q in queries if "artifact" in q["sql"]], "the model was loaded in the request"
    assert candidates.cached_sets() == 1, "the request prepared its candidates itself"


def test_warm_up_without_a_model_serves_the_fallback():
    serving.reset_cache()
    assert not serving.warm_up()
