"""``papers_announced_after`` as two index ranges means exactly what the COALESCE it replaces meant.

A paper's day is ``announced_on``, else ``hf_published_on``; the window is ``(day, until]``. Every
combination of the two dates around both edges of the window.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from recommender.digest.selectors import papers_announced_after
from tests.factories import make_paper

pytestmark = pytest.mark.django_db


def test_the_window_is_the_announcement_day_else_the_hugging_face_day():
    day, until = dt.date(2026, 11, 28), dt.date(2026, 12, 1)
    dates = [None, day - dt.timedelta(days=1), day, day + dt.timedelta(days=1), until, until + dt.timedelta(days=1)]
    expected = {}
    for announced, hf in itertools.product(dates, dates):
        paper = make_paper()
        type(paper).objects.filter(pk=paper.pk).update(announced_on=announced, hf_published_on=hf)
        effective = announced if announced is not None else hf
        if effective is not None and day < effective <= until:
            expected[paper.pk] = effective
    assert papers_announced_after(day=day, until=until) == expected
