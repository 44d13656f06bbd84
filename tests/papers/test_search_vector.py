"""Keyword search's stored vector: a model field, right on every recorded paper, and kept right by the migration.

Invariants:

* ``Paper.search_vector`` is a stored ``GeneratedField``; on PostgreSQL every paper of the recorded feeds
  (merged from four sources, updated in place) holds exactly ``SearchVector(title, A) + SearchVector(abstract, B)``
  computed afresh, and an edited title is searchable at once; on SQLite it is NULL (FTS5 does the work there).
* Pages that show papers never fetch the vector (the default manager defers it: it is ~40% of a row).
* On PostgreSQL, keyword search through the ORM returns what the raw SQL it replaced returned, in the same
  order, for every title word and every title of the recorded feeds (the old query is kept below as the oracle).
* The migration upgrades a PostgreSQL database that has the hand-made column of migration 0003, and a round
  trip through it (back and forth) leaves keyword search working on both databases (on SQLite the table
  rebuild drops the FTS5 triggers, which the migration makes again).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from recommender.models import SEARCH_CONFIG, Paper
from recommender.papers import search
from tests.factories import make_paper
from tests.migrations import executor as migration_executor
from tests.migrations import migrate_to

MIGRATION_SUFFIX = "_paper_search_vector"
FTS_TRIGGERS = {f"{search.FTS_TABLE}_{suffix}" for suffix in ("ai", "ad", "au")}


def _fresh_vector():
    return SearchVector("title", config=SEARCH_CONFIG, weight="A") + SearchVector(
        "abstract", config=SEARCH_CONFIG, weight="B"
    )


def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's tsvector (set DATABASE_URL=postgres://...)")


@pytest.mark.django_db
def test_the_stored_vector_is_a_generated_field_right_on_every_recorded_paper(ingested_feeds):
    field = Paper._meta.get_field("search_vector")
    assert isinstance(field, models.GeneratedField) and field.db_persist
    if connection.vendor != "postgresql":
        assert not Paper.objects.filter(search_vector__isnull=False).exists()
        return
    rows = list(Paper.objects.annotate(fresh=_fresh_vector()).values_list("arxiv_id", "search_vector", "fresh"))
    assert len(rows) == len(ingested_feeds)
    assert [arxiv_id for arxiv_id, stored, fresh in rows if stored != fresh] == []
    paper = Paper.objects.get(pk=next(iter(ingested_feeds)))
    paper.title = "Zygomorphic quasicrystals"
    paper.save()
    found = Paper.objects.filter(search_vector=SearchQuery("quasicrystal", config=SEARCH_CONFIG))
    assert list(found.values_list("pk", flat=True)) == [paper.pk]


@pytest.mark.django_db
def test_pages_that_show_papers_do_not_fetch_the_vector(client, ingested_feeds):
    arxiv_ids = list(Paper.objects.order_by("pk").values_list("arxiv_id", flat=True)[:20])
    pages = [reverse("web:daily"), reverse("web:trending")] + [reverse("web:paper", args=[a]) for a in arxiv_ids]
    for url in pages:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200, url
        assert any("recommender_paper" in q["sql"] for q in ctx.captured_queries), url
        assert not [q["sql"] for q in ctx.captured_queries if "search_vector" in q["sql"]], url


def _raw_sql_search(terms: list[str], n: int, op: str) -> list[int]:
    """The keyword search this module replaced (raw SQL over the same column), kept as the oracle."""
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH q AS (SELECT to_tsquery('english'::regconfig, %s) AS q),
            matches AS (
                SELECT id FROM recommender_paper, q WHERE search_vector @@ q.q ORDER BY id DESC LIMIT %s
            )
            SELECT p.id FROM recommender_paper p JOIN matches m ON m.id = p.id, q
            ORDER BY ts_rank(p.search_vector, q.q, 1) DESC, p.id DESC
            LIMIT %s
            """,
            [f" {op} ".join(terms), search.RANK_WINDOW, n],
        )
        return [row[0] for row in cur.fetchall()]


@pytest.mark.django_db
def test_orm_keyword_search_returns_what_the_raw_sql_did(ingested_feeds):
    _postgresql_only()
    words = {w for t in ingested_feeds.values() for w in re.findall(r"[a-z]{3,}", t.lower())} - ENGLISH_STOP_WORDS
    queries = sorted(words) + sorted(set(ingested_feeds.values()))
    for query in queries:
        terms = search.query_terms(query)
        expected = _raw_sql_search(terms, 100, "&") or _raw_sql_search(terms, 100, "|")
        assert search.keyword_search(query=query, n=100) == expected, query


# --- the migration ---------------------------------------------------------------------------------


def _ours_and_before() -> tuple[tuple[str, str], list[tuple[str, str]]]:
    loader = migration_executor().loader
    ours = next(key for key in loader.disk_migrations if key[0] == "recommender" and key[1].endswith(MIGRATION_SUFFIX))
    before = [dep for dep in loader.get_migration(*ours).dependencies if dep[0] == "recommender"]
    return ours, before


def _historical_paper(targets):
    """Paper as the migrations up to ``targets`` know it (no search_vector before ours)."""
    return migration_executor().loader.project_state(targets).apps.get_model("recommender", "Paper")


def _fts_triggers() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cur.fetchall()} & FTS_TRIGGERS


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_the_latest_schema")
def test_a_round_trip_through_the_migration_keeps_keyword_search():
    ours, before = _ours_and_before()
    migrate_to(before)
    if connection.vendor == "sqlite":
        assert _fts_triggers() == FTS_TRIGGERS, "the FTS5 triggers are lost going back"
    migrate_to([ours])
    if connection.vendor == "sqlite":
        assert _fts_triggers() == FTS_TRIGGERS, "the FTS5 triggers are lost going forth"
    paper = make_paper(title="Holographic anyons in twisted bilayers", abstract="We braid anyons.")
    assert search.keyword_search(query="anyons bilayer") == [paper.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_the_latest_schema")
def test_a_postgresql_database_with_the_hand_made_column_is_upgraded():
    _postgresql_only()
    ours, before = _ours_and_before()
    migrate_to(before)
    with connection.cursor() as cur:  # what migration 0003 used to make, by hand
        cur.execute(
            """
            ALTER TABLE recommender_paper ADD COLUMN IF NOT EXISTS search_vector tsvector
            GENERATED ALWAYS AS (
                setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') ||
                setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'B')
            ) STORED
            """
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS recommender_paper_search_gin ON recommender_paper USING GIN (search_vector)"
        )
    old_paper = _historical_paper(before).objects.create(arxiv_id="2401.00001", title="Braided anyons").pk
    migrate_to([ours])
    with connection.cursor() as cur:
        constraints = connection.introspection.get_constraints(cur, "recommender_paper")
    assert constraints["recommender_paper_search_gin"]["type"] == "gin"
    assert constraints["recommender_paper_search_gin"]["columns"] == ["search_vector"]
    assert search.keyword_search(query="anyon") == [old_paper]
    stored, fresh = Paper.objects.annotate(fresh=_fresh_vector()).values_list("search_vector", "fresh").get()
    assert stored == fresh
