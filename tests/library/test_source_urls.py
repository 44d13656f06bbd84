"""Every external source's base URL is a setting from the environment (issue 15), for tests and mirrors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import django, json
django.setup()
from django.conf import settings
from recommender.library.tasks import id_list_url
p = settings.PAPERBOY
print(json.dumps({k: p[k] for k in ("ARXIV_API_URL", "ARXIV_RSS_URL", "ARXIV_OAI_URL", "HF_DAILY_URL")}
                 | {"id_list": id_list_url(["2403.02233"])}))
"""


@pytest.mark.slow
def test_source_urls_come_from_the_environment():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="digest_site.settings",
        CACHE_REDIS="0",
        ARXIV_API_URL="http://mirror.test/api/query",
        ARXIV_RSS_URL="http://mirror.test/rss/",
        ARXIV_OAI_URL="http://mirror.test/oai",
        HF_API_URL="http://mirror.test/hf/api/",
    )
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["ARXIV_API_URL"] == "http://mirror.test/api/query"
    assert got["ARXIV_RSS_URL"] == "http://mirror.test/rss/"
    assert got["ARXIV_OAI_URL"] == "http://mirror.test/oai"
    assert got["HF_DAILY_URL"] == "http://mirror.test/hf/api/daily_papers"
    assert got["id_list"] == "http://mirror.test/api/query?id_list=2403.02233&max_results=1"


def test_no_source_host_is_hard_coded_outside_the_defaults():
    """Hosts appear only as the documented defaults (settings, ``ingest.collect.DEFAULT_URLS``), never in a request."""
    hosts = ("export.arxiv.org", "rss.arxiv.org", "oaipmh.arxiv.org", "huggingface.co/api")
    allowed = {"digest_site/settings.py", "recommender/ingest/collect.py"}
    offenders = []
    for path in (REPO / "recommender").rglob("*.py"):
        rel = path.relative_to(REPO).as_posix()
        if rel in allowed or "/migrations/" in rel:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if any(h in code for h in hosts) and not code.strip().startswith(('"""', "``")):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == [], offenders
